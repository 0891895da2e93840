"""Register defaults of the blocks newer than the first jobspec (scaling policies,
disconnect, csi_plugin, connect and its gateways, service weights, multiregion), as the
API's Canonicalize methods set them (api/scaling.go, api/tasks.go, api/consul.go,
api/services.go, api/jobs.go)."""

from __future__ import annotations

import copy
from typing import Any

from yurt.api.durations import SECOND
from yurt.jobspec.schema import SPECS


def fill(obj: dict[str, Any], spec: str) -> dict[str, Any]:
    """Every field of the API struct present, in Nomad's order (extra keys kept at the end)."""
    out = {k: copy.copy(v) for k, v in SPECS[spec].fields}
    out.update(obj)
    return out


def default(obj: dict[str, Any], key: str, value: Any) -> None:
    """Go's `if x == nil { x = value }`: a missing or null field takes (a copy of) `value`."""
    if obj.get(key) is None:
        obj[key] = copy.deepcopy(value)


def scaling_policy(p: dict[str, Any], count: int, spec: str = "scaling") -> dict[str, Any]:
    """ScalingPolicy.Canonicalize: enabled, min = the group's count, horizontal."""
    p = fill(p, spec)
    default(p, "Enabled", True)
    default(p, "Min", count)
    if not p["Type"]:
        p["Type"] = "horizontal"
    return p


def disconnect(d: dict[str, Any]) -> dict[str, Any]:
    """DisconnectStrategy.Canonicalize: replace, reconcile best_score."""
    d = fill(d, "disconnect")
    default(d, "Replace", True)
    default(d, "Reconcile", "best_score")
    return d


def csi_plugin(c: dict[str, Any]) -> dict[str, Any]:
    """TaskCSIPluginConfig.Canonicalize: /csi, /local/csi, 30s."""
    c = fill(c, "csi_plugin")
    if not c["MountDir"]:
        c["MountDir"] = "/csi"
    if not c["StagePublishBaseDir"]:
        c["StagePublishBaseDir"] = "/local/csi"
    if not c["HealthTimeout"]:
        c["HealthTimeout"] = 30 * SECOND
    return c


def weights(w: dict[str, Any]) -> dict[str, Any]:
    """ServiceWeights.Canonicalize: a weight of 0 or less is 1."""
    w = fill(w, "weights")
    for key in ("Passing", "Warning"):
        if (w.get(key) or 0) <= 0:
            w[key] = 1
    return w


def multiregion(m: dict[str, Any]) -> dict[str, Any]:
    """Multiregion.Canonicalize: a zero strategy, each region a count of 1."""
    m = fill(m, "multiregion")
    strategy = fill(m.get("Strategy") or {}, "multiregion_strategy")
    default(strategy, "MaxParallel", 0)
    default(strategy, "OnFailure", "")
    m["Strategy"] = strategy
    regions = []
    for r in m.get("Regions") or []:
        r = fill(r, "multiregion_region")
        default(r, "Count", 1)
        default(r, "Datacenters", [])
        default(r, "Meta", {})
        regions.append(r)
    m["Regions"] = regions or None
    return m


def connect(c: dict[str, Any], resources: dict[str, Any], logs: dict[str, Any]) -> dict[str, Any]:
    """ConsulConnect.Canonicalize: empty lists and maps to null, the sidecar task's
    resources and logs (the caller's defaults), its kill timeout and shutdown delay, a
    gateway's connect timeout and listener protocol."""
    c = fill(c, "connect")
    sidecar = c.get("SidecarService")
    if sidecar is not None:
        sidecar = fill(sidecar, "sidecar_service")
        for key in ("Tags", "Meta"):
            if not sidecar.get(key):
                sidecar[key] = None
        if sidecar.get("Proxy") is not None:
            proxy = fill(sidecar["Proxy"], "proxy")
            proxy["Upstreams"] = [fill(u, "upstream") for u in proxy.get("Upstreams") or []] or None
            if not proxy.get("Config"):
                proxy["Config"] = None
            sidecar["Proxy"] = proxy
        c["SidecarService"] = sidecar
    task = c.get("SidecarTask")
    if task is not None:
        task = fill(task, "sidecar_task")
        for key in ("Config", "Env", "Meta"):
            if not task.get(key):
                task[key] = None
        task["Resources"] = merge(resources, task.get("Resources"))
        task["LogConfig"] = merge(logs, task.get("LogConfig"))
        default(task, "KillTimeout", 5 * SECOND)
        default(task, "ShutdownDelay", 0)
        c["SidecarTask"] = task
    if c.get("Gateway") is not None:
        c["Gateway"] = _gateway(c["Gateway"])
    return c


def _gateway(g: dict[str, Any]) -> dict[str, Any]:
    g = fill(g, "gateway")
    if g.get("Proxy") is not None:
        proxy = fill(g["Proxy"], "gateway_proxy")
        default(proxy, "ConnectTimeout", 5 * SECOND)
        for key in ("EnvoyGatewayBindAddresses", "Config"):
            if not proxy.get(key):
                proxy[key] = None
        g["Proxy"] = proxy
    if g.get("Ingress") is not None:
        ingress = fill(g["Ingress"], "ingress")
        listeners = []
        for listener in ingress.get("Listeners") or []:
            listener = fill(listener, "listener")
            if not listener["Protocol"]:
                listener["Protocol"] = "tcp"
            listeners.append(listener)
        ingress["Listeners"] = listeners or None
        g["Ingress"] = ingress
    return g


def merge(defaults: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """Go's Merge: fields set (non-null) in `given` replace those of `defaults`."""
    out = copy.deepcopy(defaults)
    for k, v in (given or {}).items():
        if v is not None:
            out[k] = copy.deepcopy(v)
    return out
