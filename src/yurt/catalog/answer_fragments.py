"""The parts of the whole-catalog answers, each encoded once per change of what it shows.

`/v1/health/state/any` and `/v1/catalog/services` are what every Fabio (and yurt's
router) watches; at 30,000 instances the first is 7.5 MB, and both are asked again after
every change. Building and encoding every check and instance for a change to one cost the
catalog a tenth of a second per answer while registrations stream in. The store tells these
caches what it writes, adds and removes; an answer joins the kept fragments in the answer's
order, byte for byte what `json.dumps` of the whole gives (the same separators, the same
escaping). Fragments are kept encoded: an answer is one join, with no whole-answer text to
encode again (at 30,000 checks that was 7.5 MB more for every answer built); a check's is
kept as its place in the last whole answer.
"""

from __future__ import annotations

import bisect
import json
from array import array
from collections.abc import Callable, Iterable, Mapping

from yurt.catalog.model import Check, Service

Key = tuple[str, str]  # (node, check ID), the store's key of a check


class CheckFragments:
    """Each check's JSON (`Check.to_json()`), for `/v1/health/state/:state`.

    A check's fragment is kept as where it sits in the last whole answer (`state/any`), not
    as bytes of its own: at 30,000 checks those were 12 MB beside the answer holding the same
    bytes. The next whole answer copies the runs of unchanged checks from the last one in
    a few slices and encodes only what changed since."""

    def __init__(self) -> None:
        self._last = b""  # the last whole answer
        # every check's key, sorted; None until the first answer, so that loading the
        # store at start sorts once instead of inserting each key in order
        self._order: list[Key] | None = None
        # where the check at the same place of `_order` is in `_last`: start << 32 | length
        # (or _UNSEEN); an array beside the order rather than a dict of ints, 8 bytes a
        # check instead of ~76 (answers of 4 GB and over are out of reach anyway)
        self._spans = array("Q")
        self._text: dict[Key, bytes] = {}  # encoded since (for the filtered answers)

    def _at(self, key: Key) -> int:
        """The place of `key` in the order, or -1."""
        order = self._order
        if order is None:
            return -1
        at = bisect.bisect_left(order, key)
        return at if at < len(order) and order[at] == key else -1

    def added(self, key: Key) -> None:
        """A check the store did not have."""
        self._text.pop(key, None)
        order = self._order
        if order is not None:
            at = bisect.bisect_left(order, key)
            order.insert(at, key)
            self._spans.insert(at, _UNSEEN)

    def removed(self, key: Key) -> None:
        self._text.pop(key, None)
        at = self._at(key)
        if at >= 0 and self._order is not None:
            del self._order[at]
            del self._spans[at]

    def changed(self, key: Key) -> None:
        """A check changed in place (status, output, its service's tags)."""
        self._text.pop(key, None)
        at = self._at(key)
        if at >= 0:
            self._spans[at] = _UNSEEN

    def answer(
        self, checks: Mapping[Key, Check], wanted: Callable[[Check], bool] | None = None
    ) -> bytes:
        """The JSON list of the checks `wanted` keeps (None: all of them), in key order."""
        if self._order is None:
            self._order = sorted(checks)
            self._spans = array("Q", [_UNSEEN]) * len(self._order)
        if wanted is not None:
            fragment = self._fragment
            return join(
                fragment(at, key, checks[key])
                for at, key in enumerate(self._order)
                if wanted(checks[key])
            )
        return self._whole(checks)

    def _whole(self, checks: Mapping[Key, Check]) -> bytes:
        assert self._order is not None
        last, spans, text = memoryview(self._last), self._spans, self._text
        parts: list[bytes | memoryview] = []
        new_spans = array("Q")
        keep = new_spans.append
        pos = 1  # where the next part starts in the new answer (after "[")
        run_start = run_end = -1  # the run of unchanged checks being copied, in `last`
        run_pos = 0  # where that run starts in the new answer
        for key, span in zip(self._order, spans, strict=True):
            if span != _UNSEEN:
                a = span >> 32
                b = a + (span & 0xFFFFFFFF)
                if run_end < 0 or a != run_end + 2:  # no run, or not next to it (", ")
                    if run_end >= 0:
                        parts.append(last[run_start:run_end])
                        pos += run_end - run_start + 2
                    run_start, run_pos = a, pos
                run_end = b
                moved = run_pos + a - run_start
                keep(moved << 32 | (b - a))
                continue
            if run_end >= 0:
                parts.append(last[run_start:run_end])
                pos += run_end - run_start + 2
                run_start = run_end = -1
            part = text.get(key) or _encoded(checks[key])
            keep(pos << 32 | len(part))
            pos += len(part) + 2
            parts.append(part)
        if run_end >= 0:
            parts.append(last[run_start:run_end])
        answer = join(parts)
        self._last, self._spans = answer, new_spans
        self._text.clear()
        return answer

    def _fragment(self, at: int, key: Key, check: Check) -> bytes | memoryview:
        text = self._text.get(key)
        if text is None:
            span = self._spans[at]
            if span != _UNSEEN:
                start = span >> 32
                return memoryview(self._last)[start : start + (span & 0xFFFFFFFF)]
            text = self._text[key] = _encoded(check)
        return text


_UNSEEN = 0xFFFFFFFFFFFFFFFF


def _encoded(check: Check) -> bytes:
    return json.dumps(check.to_json()).encode()


class ServiceFragments:
    """Each service name's `"name": [tags]` member of `/v1/catalog/services`: the tags of
    its instances (in node, ID order), each once, in the order they first appear."""

    def __init__(self) -> None:
        self._text: dict[str, bytes] = {}
        self._names: list[str] | None = None  # sorted; None until the first answer

    def changed(self, name: str, *, exists: bool) -> None:
        """An instance of `name` was added, changed or removed; `exists`: one is left."""
        self._text.pop(name, None)
        names = self._names
        if names is None:
            return
        at = bisect.bisect_left(names, name)
        there = at < len(names) and names[at] == name
        if exists and not there:
            names.insert(at, name)
        elif there and not exists:
            del names[at]

    def answer(
        self,
        by_name: Mapping[str, Mapping[Key, Service]],
        wanted: Callable[[str], bool],
    ) -> bytes:
        """The JSON object of the service names `wanted` keeps, in name order."""
        if self._names is None:
            self._names = sorted(by_name)
        return join(
            (self._fragment(name, by_name[name]) for name in self._names if wanted(name)),
            b"{}",
        )

    def _fragment(self, name: str, instances: Mapping[Key, Service]) -> bytes:
        text = self._text.get(name)
        if text is None:
            tags: list[str] = []
            for key in sorted(instances):
                tags.extend(t for t in instances[key].tags if t not in tags)
            text = self._text[name] = (json.dumps(name) + ": " + json.dumps(tags)).encode()
        return text


def join(fragments: Iterable[bytes | memoryview], brackets: bytes = b"[]") -> bytes:
    """Encoded list items (or object members) as `json.dumps` joins them."""
    # one join with the brackets and separators as parts, so that the answer is copied
    # once (a part may be megabytes of the last answer)
    out: list[bytes | memoryview] = [brackets[:1]]
    for part in fragments:
        out += (part, b", ")
    if len(out) == 1:
        return brackets
    out[-1] = brackets[1:]
    return b"".join(out)
