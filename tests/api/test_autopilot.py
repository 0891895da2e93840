"""The autopilot pieces Consul's and Nomad's APIs share: `?cas=` and a server's health."""

from __future__ import annotations

import pytest

from yurt.api.autopilot import cas_of, server_health
from yurt.api.errors import APIError


@pytest.mark.parametrize(
    ("query", "expected"), [({}, None), ({"cas": "0"}, 0), ({"cas": "17"}, 17)]
)
def test_cas_of(query: dict[str, str], expected: int | None) -> None:
    assert cas_of(query) == expected


def test_a_cas_that_is_not_a_number_is_a_400_with_the_products_text() -> None:
    with pytest.raises(APIError) as caught:
        cas_of({"cas": "x1"})
    assert caught.value.status == 400
    assert caught.value.message == "Error parsing cas value: 'x1'"


def test_server_health_is_a_leading_voter() -> None:
    health = server_health(
        server_id="id", name="n", address="1.2.3.4:8300", version="1.10", last_index=9, since="t"
    )
    assert list(health) == [
        "ID", "Name", "Address", "SerfStatus", "Version", "Leader", "LastContact",
        "LastTerm", "LastIndex", "Healthy", "Voter", "StableSince",
    ]  # fmt: skip
    assert health["Leader"] is health["Voter"] is health["Healthy"] is True
    assert (health["LastIndex"], health["StableSince"]) == (9, "t")
