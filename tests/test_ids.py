"""IDs: canonical version-4 UUIDs, never repeated, never shared with a forked child."""

import os
import re
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from yurt import ids

_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=600))
def test_every_id_is_a_canonical_version_4_uuid(count: int) -> None:
    # counts past the 256-ID buffer cross a refill
    for _ in range(count):
        text = ids.uuid4()
        assert _CANONICAL.match(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_ids_do_not_repeat() -> None:
    drawn = [ids.uuid4() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    ids.uuid4()  # the parent holds a buffer with IDs still to come
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next IDs and leave at once
        os.close(read)
        os.write(write, "".join(ids.uuid4() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 4096).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(ids.uuid4() for _ in range(10))
    assert len(child) == 360
    assert child != parent
    assert not set(child[i : i + 36] for i in range(0, 360, 36)) & set(
        parent[i : i + 36] for i in range(0, 360, 36)
    )
