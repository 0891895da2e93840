"""The parts of the whole-catalog answers, each encoded once per change of what it shows.

`/v1/health/state/any` and `/v1/catalog/services` are what every Fabio (and yurt's
router) watches; at 30,000 instances the first is 7.5 MB, and both are asked again after
every change. Building and encoding every check and instance for a change to one cost the
catalog a tenth of a second per answer while registrations stream in. The store tells these
caches what it writes, adds and removes; an answer joins the kept fragments in the answer's
order, byte for byte what `json.dumps` of the whole gives (the same separators, the same
escaping). Fragments are kept encoded (bytes): an answer is one join, with no whole-answer
text to encode again (at 30,000 checks that was 7.5 MB more for every answer built).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Mapping

from yurt.catalog.model import Check, Service

Key = tuple[str, str]  # (node, check ID), the store's key of a check


class CheckFragments:
    """Each check's JSON (`Check.to_json()`), for `/v1/health/state/:state`."""

    def __init__(self) -> None:
        self._text: dict[Key, bytes] = {}
        # every check's key, sorted; None until the first answer, so that loading the
        # store at start sorts once instead of inserting each key in order
        self._order: list[Key] | None = None

    def added(self, key: Key) -> None:
        """A check the store did not have."""
        self._text.pop(key, None)
        if self._order is not None:
            bisect.insort(self._order, key)

    def removed(self, key: Key) -> None:
        self._text.pop(key, None)
        order = self._order
        if order is not None:
            at = bisect.bisect_left(order, key)
            if at < len(order) and order[at] == key:
                del order[at]

    def changed(self, key: Key) -> None:
        """A check changed in place (status, output, its service's tags)."""
        self._text.pop(key, None)

    def answer(
        self, checks: Mapping[Key, Check], wanted: Callable[[Check], bool] | None = None
    ) -> bytes:
        """The JSON list of the checks `wanted` keeps (None: all of them), in key order."""
        if self._order is None:
            self._order = sorted(checks)
        text, fragment = self._text, self._fragment
        if wanted is None:
            return join(text.get(key) or fragment(key, checks[key]) for key in self._order)
        return join(fragment(key, checks[key]) for key in self._order if wanted(checks[key]))

    def _fragment(self, key: Key, check: Check) -> bytes:
        text = self._text.get(key)
        if text is None:
            text = self._text[key] = json.dumps(check.to_json()).encode()
        return text


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


def join(fragments: Iterable[bytes], brackets: bytes = b"[]") -> bytes:
    """Encoded list items (or object members) as `json.dumps` joins them."""
    parts = list(fragments)
    if not parts:
        return brackets
    # the brackets go on the end fragments, so that the whole answer is built once (adding
    # them to the joined bytes would copy megabytes twice more)
    parts[0] = brackets[:1] + parts[0]
    parts[-1] = parts[-1] + brackets[1:]
    return b", ".join(parts)
