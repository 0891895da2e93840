"""What Consul's and Nomad's autopilot both say of a server in
`/v1/operator/autopilot/health`: api.ServerHealth, the same struct in both products. This
stack runs one server per role, so it is the leader, a voter, and in contact."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yurt.api.errors import APIError


def server_health(
    *, server_id: str, name: str, address: str, version: str, last_index: int, since: str
) -> dict[str, Any]:
    """api.ServerHealth of the one server (`since`: RFC 3339, when it became stable)."""
    return {
        "ID": server_id,
        "Name": name,
        "Address": address,
        "SerfStatus": "alive",
        "Version": version,
        "Leader": True,
        "LastContact": "0s",
        "LastTerm": 1,
        "LastIndex": last_index,
        "Healthy": True,
        "Voter": True,
        "StableSince": since,
    }


def cas_of(query: Mapping[str, str]) -> int | None:
    """`PUT .../autopilot/configuration?cas=N`: the index the write is conditional on
    (None: unconditional); a 400 with both products' text for one that is not a number."""
    raw = query.get("cas")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise APIError.bad_request(f"Error parsing cas value: {raw!r}") from None
