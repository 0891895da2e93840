"""Nomad Variables and native services in `template` blocks: consul-template's `nomadVar`,
`nomadVarList`, `nomadVarListSafe`, `nomadVarExists`, `nomadService` and `nomadServices`,
read from the scheduler with the task's workload identity and watched by blocking queries
(`?index=&wait=`, `X-Nomad-Index`), as Nomad's template runner does.

`yurt.client.templates` owns the views; this module says what each function depends on,
how a scheduler answer becomes the data a template sees, and how the answer is fetched
(the identity comes from yurt's internal route, with the node's secret).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp

from yurt.client.config import TemplateConfig
from yurt.client.gotemplate import MissingData, TemplateError
from yurt.client.server_conn import ServerConnection

Obj = dict[str, Any]

NOMAD = "nomad"
VAR = "nomad.var.block"
VAR_LIST = "nomad.var.list"
VAR_LIST_SAFE = "nomad.var.list.safe"
SERVICE = "nomad.service"
SERVICES = "nomad.services"
_METADATA = ("Namespace", "Path", "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime")


class FetchFailed(Exception):
    """A watch's read failed; the view retries with backoff."""


class VarItem(str):
    """One item of `nomadVar`: prints as its value and has `.Key`, `.Value`, `.Path`, as
    consul-template's NomadVarItem."""

    Key: str
    Value: str
    Path: str

    def __new__(cls, key: str, value: str, path: str) -> VarItem:
        item = super().__new__(cls, value)
        item.Key, item.Value, item.Path = key, value, path
        return item


def split_spec(spec: str, namespace: str) -> tuple[str, str]:
    """`path[@namespace]` -> (path, namespace); the task's namespace by default."""
    path, at, ns = spec.strip().strip("/").partition("@")
    if not path:
        raise TemplateError(f"nomadVar {spec!r}: expected path[@namespace]")
    return path, (ns if at and ns else namespace)


# consul-template's service query: `[tag.]name[?ns=namespace][@region]`.
_SERVICE_SPEC = re.compile(
    r"\A(?:(?P<tag>[\w=:.\-]+)\.)?(?P<name>[\w\-]+)"
    r"(?:\?ns=(?P<ns>[\w\-]+))?(?:@(?P<region>[\w.\-]+))?\Z"
)


def service_spec(spec: str, namespace: str, region: str) -> tuple[str, str]:
    """`nomadService`'s argument -> ("[tag.]name", namespace); the task's namespace by
    default. yurt has one region: naming another is an error, not an empty answer."""
    found = _SERVICE_SPEC.match(spec.strip())
    if found is None:
        raise TemplateError(f"nomad.service: invalid format: {json_quote(spec)}")
    if found["region"] and found["region"] != region:
        raise TemplateError(f"nomad.service {spec!r}: yurt has one region, {region!r}")
    tag, name = found["tag"], found["name"]
    return (f"{tag}.{name}" if tag else name), found["ns"] or namespace


def json_quote(text: str) -> str:
    """Go's %q for the plain strings these errors quote."""
    return json.dumps(text)


def request_of(kind: str, path: str, namespace: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The HTTP path and query that watches a dependency."""
    if kind == VAR:
        return f"/v1/var/{urllib.parse.quote(path, safe='/')}", (("namespace", namespace),)
    if kind == SERVICE:
        tag, _, name = path.rpartition(".")
        query = (("namespace", namespace), *((("tag", tag),) if tag else ()))
        return f"/v1/service/{urllib.parse.quote(name, safe='')}", query
    if kind == SERVICES:
        return "/v1/services", (("namespace", namespace),)
    return "/v1/vars", (("prefix", path), ("namespace", namespace))


def _service(reg: Obj) -> tuple[tuple[str, Any], ...]:
    """A registration as consul-template's NomadService has it (Tags sorted)."""
    return (
        ("ID", reg.get("ID", "")),
        ("Name", reg.get("ServiceName", "")),
        ("Node", reg.get("NodeID", "")),
        ("Address", reg.get("Address", "")),
        ("Port", reg.get("Port", 0)),
        ("Datacenter", reg.get("Datacenter", "")),
        ("Tags", tuple(sorted(reg.get("Tags") or []))),
        ("JobID", reg.get("JobID", "")),
        ("AllocID", reg.get("AllocID", "")),
    )


def decode(kind: str, body: Any) -> Any:
    """What a template sees of an answer (None: the variable does not exist)."""
    if kind == SERVICE:
        return tuple(_service(reg) for reg in body or [])
    if kind == SERVICES:
        names: dict[str, set[str]] = {}
        for stub in body or []:
            for svc in stub.get("Services") or []:
                names.setdefault(str(svc.get("ServiceName", "")), set()).update(
                    svc.get("Tags") or []
                )
        return tuple((name, tuple(sorted(tags))) for name, tags in sorted(names.items()))
    if kind == VAR:
        if not body:
            return None
        return (str(body.get("Path", "")), tuple(sorted((body.get("Items") or {}).items())))
    return tuple(tuple((name, v.get(name)) for name in _METADATA) for v in body or [])


Read = Callable[[str, str, str, str], tuple[bool, Any]]


def var_funcs(read: Read, env: dict[str, str]) -> dict[str, Any]:
    """The template functions; `read(kind, path, namespace, task)` gives a view's data."""
    default_ns = env.get("NOMAD_NAMESPACE") or "default"
    task = env.get("NOMAD_TASK_NAME", "")

    def var(spec: str) -> dict[str, VarItem]:
        path, ns = split_spec(spec, default_ns)
        known, data = read(VAR, path, ns, task)
        if known and data is None:
            raise MissingData(f"nomad.var.block({path}@{ns})")
        if data is None:
            return {}
        stored_path, items = data
        return {k: VarItem(k, v, stored_path) for k, v in items}

    def exists(spec: str) -> bool:
        path, ns = split_spec(spec, default_ns)
        _, data = read(VAR, path, ns, task)
        return data is not None

    def listing(kind: str) -> Callable[..., list[Obj]]:
        def run(spec: str = "") -> list[Obj]:
            prefix, ns = split_spec(spec, default_ns) if spec.strip("/") else ("", default_ns)
            _, data = read(kind, prefix, ns, task)
            return [dict(entry) for entry in data or ()]

        return run

    return {
        "nomadVar": var,
        "nomadVarExists": exists,
        "nomadVarList": listing(VAR_LIST),
        "nomadVarListSafe": listing(VAR_LIST_SAFE),
    }


def service_funcs(read: Read, env: dict[str, str]) -> dict[str, Any]:
    """`nomadService "[tag.]name[?ns=namespace][@region]"` and `nomadServices`."""
    default_ns = env.get("NOMAD_NAMESPACE") or "default"
    region = env.get("NOMAD_REGION") or "global"
    task = env.get("NOMAD_TASK_NAME", "")

    def service(*args: Any) -> list[Obj]:
        if len(args) != 1:
            # consul-template's `nomadService COUNT KEY NAME` asks the server to choose
            # instances by rendezvous hashing (`?choose=`), which yurt does not have.
            raise TemplateError("nomadService takes one argument in yurt (no count/key choice)")
        path, ns = service_spec(str(args[0]), default_ns, region)
        _, data = read(SERVICE, path, ns, task)
        return [{**dict(entry), "Tags": list(dict(entry)["Tags"])} for entry in data or ()]

    def services(spec: str = "") -> list[Obj]:
        found = re.fullmatch(r"(?:\?ns=(?P<ns>[\w\-]+))?(?:@[\w.\-]+)?", spec.strip())
        if found is None:
            raise TemplateError(f"nomad.services: invalid format: {json_quote(spec)}")
        _, data = read(SERVICES, "", found["ns"] or default_ns, task)
        return [{"Name": name, "Tags": list(tags)} for name, tags in data or ()]

    return {"nomadService": service, "nomadServices": services}


class NomadVarSource:
    """The scheduler as one allocation's templates read it: each task with its own
    workload identity (fetched once, with the node's secret)."""

    def __init__(self, conn: ServerConnection, alloc_id: str) -> None:
        self.conn = conn
        self.alloc_id = alloc_id
        self._tokens: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = self.conn.tls.client_context() if self.conn.tls.http else None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=context if context else True),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    async def _token(self, task: str) -> str:
        if task not in self._tokens:
            url = f"{self.conn.server}/v1/internal/node/{self.conn.node_id}/identity"
            params = {"alloc": self.alloc_id, "task": task}
            headers = {"X-Yurt-Node-Secret": self.conn.secret}
            async with self._http().get(url, params=params, headers=headers) as resp:
                if resp.status != 200:
                    raise FetchFailed(f"workload identity: scheduler answered {resp.status}")
                self._tokens[task] = str((await resp.json())["Token"])
        return self._tokens[task]

    async def get(
        self, path: str, params: tuple[tuple[str, str], ...], task: str, index: int, wait_s: float
    ) -> tuple[int, Any, int]:
        """(status, JSON body or None, X-Nomad-Index) of one (blocking) read."""
        query = dict(params)
        if index:
            query["index"], query["wait"] = str(index), f"{int(wait_s * 1000)}ms"
        try:
            headers = {"X-Nomad-Token": await self._token(task)}
            timeout = aiohttp.ClientTimeout(total=None, sock_read=wait_s * 17 / 16 + 10)
            async with self._http().get(
                f"{self.conn.server}{path}", params=query, headers=headers, timeout=timeout
            ) as resp:
                text = await resp.text()
                found = int(resp.headers.get("X-Nomad-Index") or 0)
                if resp.status == 403:
                    self._tokens.pop(task, None)  # the allocation may have been replaced
                if resp.status >= 300:
                    return resp.status, text.strip(), found
                return resp.status, (await resp.json(content_type=None) if text else None), found
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise FetchFailed(f"scheduler unreachable ({exc or type(exc).__name__})") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def source_for(conn: ServerConnection | None, alloc_id: str) -> NomadVarSource | None:
    return NomadVarSource(conn, alloc_id) if conn is not None else None


async def fetch(
    source: NomadVarSource | None, dep: Any, index: int, settings: TemplateConfig
) -> tuple[Any, int]:
    """One watch read of a Nomad dependency (`yurt.client.templates.Dependency`):
    (decoded data, index)."""
    if source is None:
        raise FetchFailed("templates that read Nomad variables need the client's scheduler")
    kind = dep.kind
    wait_s = settings.block_query_wait
    status, body, found = await source.get(dep.path, dep.params, dep.task, index, wait_s)
    if status == 404 or (status == 403 and kind == VAR_LIST_SAFE):
        return decode(kind, None), found
    if status >= 300:
        raise FetchFailed(f"scheduler answered {status}: {str(body)[:200]}")
    try:
        return decode(kind, body), found
    except (AttributeError, TypeError, ValueError):
        raise FetchFailed(f"scheduler answered unexpected data: {str(body)[:200]!r}") from None
