"""A service definition's Connect blocks, read as Consul reads them: `Proxy` (of a
`connect-proxy` service) and `Connect` (`Native`, `SidecarService`).

Keys arrive PascalCase, lower case or snake_case; they are stored under Consul's wire names,
so that answers carry them as Consul does. Pure.
"""

from __future__ import annotations

from typing import Any

CONNECT_PROXY = "connect-proxy"

_PROXY_FIELDS = (
    "DestinationServiceName",
    "DestinationServiceID",
    "LocalServiceAddress",
    "LocalServicePort",
    "LocalServiceSocketPath",
    "Mode",
    "TransparentProxy",
    "Config",
    "Upstreams",
    "MeshGateway",
    "Expose",
    "AccessLogs",
    "EnvoyExtensions",
)
_UPSTREAM_FIELDS = (
    "DestinationType",
    "DestinationNamespace",
    "DestinationPartition",
    "DestinationPeer",
    "DestinationName",
    "Datacenter",
    "LocalBindAddress",
    "LocalBindPort",
    "LocalBindSocketPath",
    "LocalBindSocketMode",
    "Config",
    "MeshGateway",
    "CentrallyConfigured",
)


class ConnectError(ValueError):
    """A Connect block that cannot be accepted; the text is the answer's."""


def _fold(key: str) -> str:
    return key.replace("_", "").lower()


def _canonical(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The known fields under Consul's names; others are dropped, as Consul's lenient
    decoding of registrations drops them."""
    by_fold = {_fold(n): n for n in names}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = by_fold.get(_fold(key))
        if name is not None and value not in (None, "", 0, False, [], {}):
            out[name] = value
    return out


def proxy_block(raw: Any, where: str = "Proxy") -> dict[str, Any]:
    """A `Proxy` block, its upstreams given Consul's defaults (`DestinationType: service`)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConnectError(f"{where}: expected a JSON object")
    out = _canonical(raw, _PROXY_FIELDS)
    upstreams = out.get("Upstreams")
    if upstreams is not None:
        if not isinstance(upstreams, list) or not all(isinstance(u, dict) for u in upstreams):
            raise ConnectError(f"{where}.Upstreams: expected an array of objects")
        decoded = []
        for item in upstreams:
            up = _canonical(item, _UPSTREAM_FIELDS)
            up.setdefault("DestinationType", "service")
            up.setdefault("MeshGateway", {})
            decoded.append(up)
        out["Upstreams"] = decoded
    for key in ("LocalServicePort",):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], int)):
            raise ConnectError(f"{where}.{key}: expected an integer")
    return out


def connect_block(raw: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A `Connect` block: what the service keeps (`Native`) and the `SidecarService` to
    expand (None when there is none), as Consul's agent splits them."""
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        raise ConnectError("Connect: expected a JSON object")
    kept: dict[str, Any] = {}
    sidecar: dict[str, Any] | None = None
    for key, value in raw.items():
        folded = _fold(key)
        if folded == "native":
            if not isinstance(value, bool):
                raise ConnectError("Connect.Native: expected true or false")
            if value:
                kept["Native"] = True
        elif folded == "sidecarservice":
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConnectError("Connect.SidecarService: expected a JSON object")
            sidecar = value
    return kept, sidecar


def validate_proxy(kind: str, port: int, proxy: dict[str, Any]) -> None:
    """Consul's checks of a `connect-proxy` registration, in its multi-error text."""
    if kind != CONNECT_PROXY:
        return
    errors = []
    if not proxy.get("DestinationServiceName"):
        errors.append("Proxy.DestinationServiceName must be non-empty for Connect proxy services")
    if port == 0 and not proxy.get("LocalServiceSocketPath"):
        errors.append("Port or SocketPath must be set for a Connect proxy")
    if errors:
        head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
        raise ConnectError(head + "".join(f"\n\t* {e}" for e in errors) + "\n\n")
