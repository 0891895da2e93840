"""`template` blocks: consul-template's common functions over the catalog's HTTP API
(`key`, `keyOrDefault`, `ls`, `tree`, `service`, `services`, `env`, and text helpers),
rendered before the task starts and re-rendered when their data changes, with `change_mode`
restart, signal or noop, `wait { min max }` quiescence, and `env = true` templates feeding
the task's environment.

Data is watched the way consul-template watches it: one view per distinct dependency of the
allocation (a key, a key prefix, a service's passing instances, the service list), each a
long-lived blocking query (`?index=N&wait=5m`, `X-Consul-Index`) shared by every template
that uses it. A template is re-rendered only when the *data* of one of its dependencies
changed, not merely its index."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from yurt.client import events as ev
from yurt.client import template_nomad as tn
from yurt.client.alloc_runner import AllocRunner, ClientEnv, PrestartHook
from yurt.client.config import TemplateConfig
from yurt.client.drivers.base import parse_signal
from yurt.client.gotemplate import MissingData, TemplateError, parse, render
from yurt.client.task_runner import TaskRunner, TaskSetupError
from yurt.client.template_helpers import helper_funcs
from yurt.client.template_quiescence import PendingChange, Quiescence
from yurt.consul_api.client import ConsulClient

log = logging.getLogger(__name__)
Obj = dict[str, Any]

# Nomad's client default `consul_retry`: unlimited attempts, backing off as
# consul-template's `retry` does (250ms doubling, `max_backoff` 1m). The blocking-query wait
# and the default `wait` come from the client's `template` block (`TemplateConfig`).
_BACKOFF_S = 0.25
_MAX_BACKOFF_S = 60.0
# A view never starts two requests closer together than this, so a server that answers
# at once (no blocking support, or a key written in a tight loop) cannot make it spin.
_MIN_INTERVAL_S = 0.05


# --- dependencies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Dependency:
    """One thing a template reads from the catalog; equal dependencies share one view.

    `kind` is consul-template's dependency name (`kv.block`, `kv.list`, `health.service`,
    `catalog.services`); `path` and `params` are the HTTP query that watches it.
    """

    kind: str
    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    server: str = "consul"  # or tn.NOMAD: the scheduler, read with `task`'s identity
    task: str = ""

    def __str__(self) -> str:
        return f"{self.kind}({self.name})" if self.name else self.kind

    @classmethod
    def key(cls, key: str) -> Dependency:
        key = key.lstrip("/")
        return cls("kv.block", key, f"/v1/kv/{_quote(key)}")

    @classmethod
    def prefix(cls, prefix: str) -> Dependency:
        prefix = prefix.lstrip("/")
        return cls("kv.list", prefix, f"/v1/kv/{_quote(prefix)}", (("recurse", ""),))

    @classmethod
    def service(cls, spec: str) -> Dependency:
        """`[tag.]name[@dc]`, as consul-template's `service` takes it."""
        tag, _, name = spec.rpartition(".")
        name, _, dc = name.partition("@")
        if not name:
            raise TemplateError(f"service {spec!r}: expected [tag.]name[@datacenter]")
        # The Go API client sends passing=1; consul-template's default filter is "passing".
        params = [("passing", "1")]
        if tag:
            params.append(("tag", tag))
        if dc:
            params.append(("dc", dc))
        return cls("health.service", spec, f"/v1/health/service/{_quote(name)}", tuple(params))

    @classmethod
    def services(cls) -> Dependency:
        return cls("catalog.services", "", "/v1/catalog/services")

    @classmethod
    def nomad(cls, kind: str, path: str, namespace: str, task: str) -> Dependency:
        """A Nomad variable (or a list of them) as `task` reads it."""
        where, params = tn.request_of(kind, path, namespace)
        return cls(kind, f"{path}@{namespace}", where, params, tn.NOMAD, task)

    def decode(self, body: Any) -> Any:
        """The part of an answer a template can see: what changes of it re-render."""
        if self.server == tn.NOMAD:
            return tn.decode(self.kind, body)
        if self.kind == "kv.block":
            if not body:
                return None
            return _b64(body[0].get("Value"))
        if self.kind == "kv.list":
            return tuple((str(e["Key"]), _b64(e.get("Value"))) for e in body or [])
        if self.kind == "health.service":
            return tuple(_service_entry(e) for e in body or [])
        return tuple((str(k), tuple(v or [])) for k, v in sorted((body or {}).items()))


def _quote(path: str) -> str:
    return urllib.parse.quote(path, safe="/")


def _b64(raw: Any) -> str:
    return "" if raw is None else base64.b64decode(raw).decode(errors="replace")


def _service_entry(entry: Obj) -> tuple[tuple[str, Any], ...]:
    svc, node = entry.get("Service") or {}, entry.get("Node") or {}
    fields = {
        "ID": svc.get("ID", ""),
        "Name": svc.get("Service", ""),
        "Address": svc.get("Address") or node.get("Address", ""),
        "Port": svc.get("Port", 0),
        "Tags": tuple(svc.get("Tags") or []),
        "ServiceMeta": tuple(sorted((svc.get("Meta") or {}).items())),
        "Node": node.get("Node", ""),
        "NodeAddress": node.get("Address", ""),
        "NodeMeta": tuple(sorted((node.get("Meta") or {}).items())),
        "Status": "passing",
    }
    return tuple(fields.items())


# --- views: one blocking query per dependency --------------------------------------------


_FetchError = tn.FetchFailed


Subscriber = tuple["_Task", int]  # a task's template, by index


class View:
    """The latest data of one dependency, kept current by a blocking-query loop."""

    def __init__(self, dep: Dependency, catalog: AllocCatalog) -> None:
        self.dep = dep
        self.catalog = catalog
        self.data: Any = None
        self.received = False
        self.index = 0
        self.error: str | None = None
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"template-view-{self.dep}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            log.debug("template: stopped watching %s", self.dep)

    def _notify(self) -> None:
        for task, i in list(self.subscribers):
            task.mark_dirty(i)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            try:
                data, index = await self._fetch()
            except _FetchError as exc:
                failures += 1
                self.error = str(exc)
                # The server that answers next may be a restarted one whose index is
                # lower: a blocking read with the old index would be held for the whole
                # wait before the backwards index could be seen. Start again from a
                # plain read (the data comparison keeps that from re-rendering).
                self.index = 0
                if failures == 1:
                    # Logged once per outage; the retries below are quiet.
                    log.warning("template: %s: %s; retrying with backoff", self.dep, exc)
                    self._notify()
                await asyncio.sleep(min(_BACKOFF_S * 2 ** (failures - 1), _MAX_BACKOFF_S))
                continue
            if failures:
                log.info("template: %s: catalog answering again", self.dep)
                failures, self.error = 0, None
            if self.take(data, index):
                self._notify()
            elapsed = loop.time() - started
            if elapsed < _MIN_INTERVAL_S:
                await asyncio.sleep(_MIN_INTERVAL_S - elapsed)

    def take(self, data: Any, index: int) -> bool:
        """Take one answer; True when the data a template sees changed."""
        if index < self.index:
            # Consul's rule: an index that goes backwards (a restored or restarted
            # server) restarts the watch from 0, which answers at once.
            self.index = 0
            return False
        # Consul documents that an index of 0 must be treated as 1, or every read would
        # return at once.
        self.index = max(index, 1)
        if self.received and data == self.data:
            return False
        self.data, self.received = data, True
        return True

    async def _fetch(self) -> tuple[Any, int]:
        if self.dep.server == tn.NOMAD:
            return await tn.fetch(self.catalog.nomad, self.dep, self.index, self.catalog.settings)
        params = dict(self.dep.params)
        if self.index:
            params["index"] = str(self.index)
            params["wait"] = f"{int(self.catalog.settings.block_query_wait * 1000)}ms"
        query = urllib.parse.urlencode(params)
        # Already percent-encoded; aiohttp keeps valid escapes as they are.
        url = f"{self.catalog.base}{self.dep.path}?{query}"
        try:
            async with self.catalog.http().get(url) as resp:
                index = _header_index(resp.headers.get("X-Consul-Index"))
                text = await resp.text()
                if resp.status == 404:
                    return self.dep.decode(None), index
                if resp.status >= 300:
                    raise _FetchError(f"catalog answered {resp.status}: {text.strip()[:200]}")
                try:
                    return self.dep.decode(json.loads(text) if text else None), index
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise _FetchError(f"catalog answered unexpected data: {text[:200]!r}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _FetchError(f"catalog unreachable ({exc or type(exc).__name__})") from None


def _header_index(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


class AllocCatalog:
    """The views of one allocation, shared by all its tasks' templates."""

    def __init__(self, consul: ConsulClient | None, settings: TemplateConfig | None = None) -> None:
        # The agent's Consul client says where the catalog is, how to trust it and which
        # ACL token to present; the views keep a session of their own because each holds
        # a connection open while it blocks.
        self.consul = consul
        self.base = consul.base_url.rstrip("/") if consul is not None else None
        self.settings = settings or TemplateConfig()
        self.views: dict[Dependency, View] = {}
        self._session: aiohttp.ClientSession | None = None
        self.nomad: tn.NomadVarSource | None = None  # Nomad variables, with the scheduler

    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No connection limit: every view holds one connection open while it blocks.
            # The read timeout covers the wait plus Consul's wait/16 jitter.
            consul = self.consul
            token = consul.token if consul is not None else ""
            context = consul.ssl_context if consul is not None else None
            self._session = aiohttp.ClientSession(
                headers={"X-Consul-Token": token} if token else {},
                connector=aiohttp.TCPConnector(
                    limit=0, ssl=context if context is not None else True
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=10,
                    sock_read=self.settings.block_query_wait * 17 / 16 + 10,
                ),
            )
        return self._session

    def view(self, dep: Dependency) -> View | None:
        return self.views.get(dep)

    def subscribe(self, sub: Subscriber, deps: Iterable[Dependency]) -> None:
        for dep in deps:
            if self.base is None and dep.server != tn.NOMAD:
                continue
            view = self.views.get(dep)
            if view is None:
                view = self.views[dep] = View(dep, self)
                view.start()
            view.subscribers.add(sub)

    async def unsubscribe(self, sub: Subscriber, deps: Iterable[Dependency]) -> None:
        for dep in deps:
            view = self.views.get(dep)
            if view is None:
                continue
            view.subscribers.discard(sub)
            if not view.subscribers:
                del self.views[dep]
                await view.stop()

    async def close(self) -> None:
        views, self.views = list(self.views.values()), {}
        for view in views:
            await view.stop()
        if self.nomad is not None:
            await self.nomad.close()
        if self._session is not None:
            await self._session.close()


# --- template functions ------------------------------------------------------------------


class _Reads:
    """What one render of one template read: every dependency it used, and those whose
    view has no data yet (the render is then incomplete, as consul-template's is)."""

    def __init__(self, catalog: AllocCatalog) -> None:
        self.catalog = catalog
        self.used: set[Dependency] = set()
        self.unfetched: set[Dependency] = set()

    def get(self, dep: Dependency) -> tuple[bool, Any]:
        """(has data, data); renders run on a worker thread and only read the views."""
        if self.catalog.base is None and dep.server != tn.NOMAD:
            raise TemplateError("templates that read the catalog need a consul address")
        self.used.add(dep)
        view = self.catalog.view(dep)
        if view is None or not view.received:
            self.unfetched.add(dep)
            return False, None
        return True, view.data


def template_funcs(reads: _Reads, env: dict[str, str]) -> dict[str, Any]:
    def key(path: str) -> str:
        known, value = reads.get(Dependency.key(path))
        if known and value is None:
            raise MissingData(f"kv.block({path})")
        return str(value or "")

    def key_or_default(path: str, default: str) -> str:
        _, value = reads.get(Dependency.key(path))
        return default if value is None else str(value)

    def key_exists(path: str) -> bool:
        _, value = reads.get(Dependency.key(path))
        return value is not None

    def pairs(prefix: str, nested: bool) -> list[Obj]:
        _, entries = reads.get(Dependency.prefix(prefix))
        base = prefix.lstrip("/").rstrip("/") + "/"
        out = []
        for full, value in entries or ():
            rel = full[len(base) :] if full.startswith(base) else ""
            # `ls` lists the prefix's direct keys; `tree` every key below it. Both skip
            # "folders" (keys ending in /).
            if rel and not rel.endswith("/") and (nested or "/" not in rel):
                out.append({"Key": rel, "Value": value})
        return out

    def service(spec: str) -> list[Obj]:
        _, entries = reads.get(Dependency.service(spec))
        out = []
        for entry in entries or ():
            item = dict(entry)
            item["Tags"] = list(item["Tags"])
            item["ServiceMeta"] = dict(item["ServiceMeta"])
            item["NodeMeta"] = dict(item["NodeMeta"])
            out.append(item)
        return out

    def services() -> list[Obj]:
        _, found = reads.get(Dependency.services())
        return [{"Name": name, "Tags": list(tags)} for name, tags in found or ()]

    def read_nomad(kind: str, path: str, namespace: str, task: str) -> tuple[bool, Any]:
        return reads.get(Dependency.nomad(kind, path, namespace, task))

    def printf(fmt: str, *args: Any) -> str:
        return fmt.replace("%v", "%s").replace("%q", '"%s"') % args if args else fmt

    return {
        **helper_funcs(env),
        **tn.var_funcs(read_nomad, env),
        **tn.service_funcs(read_nomad, env),
        "env": lambda name: env.get(name, ""),
        "key": key,
        "keyOrDefault": key_or_default,
        "keyExists": key_exists,
        "ls": lambda prefix: pairs(prefix, nested=False),
        "tree": lambda prefix: pairs(prefix, nested=True),
        "service": service,
        "services": services,
        "toUpper": lambda s: str(s).upper(),
        "toLower": lambda s: str(s).lower(),
        "trimSpace": lambda s: str(s).strip(),
        "toJSON": lambda v: json.dumps(v, separators=(",", ":")),
        "split": lambda sep, s: str(s).split(sep),
        "join": lambda sep, items: sep.join(str(i) for i in items),
        "contains": lambda needle, s: needle in s,
        "replaceAll": lambda old, new, s: str(s).replace(old, new),
        "parseInt": lambda s: int(str(s).strip()),
        "printf": printf,
        "print": lambda *a: "".join(str(x) for x in a),
        "eq": lambda a, *b: any(a == x for x in b),
        "ne": lambda a, b: a != b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "and": lambda *a: next((x for x in a if not x), a[-1]),
        "or": lambda *a: next((x for x in a if x), a[-1]),
        "not": lambda a: not a,
        "len": lambda a: len(a),
        "index": lambda coll, *keys: _index(coll, keys),
    }


def _index(coll: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        coll = coll[k] if not isinstance(coll, dict) else coll.get(k)
    return coll


def parse_env_file(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


# --- one task's templates ----------------------------------------------------------------


@dataclass
class _Outcome:
    """One render of one template: its text when complete, and what it read."""

    text: str | None
    used: set[Dependency]
    unfetched: set[Dependency]
    missing: str | None = None  # a `key` that does not exist (yet)
    error: str | None = None


@dataclass(eq=False)
class _Task:
    """The templates of one task: rendered before it starts, re-rendered on changes."""

    alloc: AllocRunner
    runner: TaskRunner
    catalog: AllocCatalog
    last: dict[int, str] = field(default_factory=dict)
    deps: dict[int, set[Dependency]] = field(default_factory=dict)
    pending: dict[int, PendingChange] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.templates: list[Obj] = list(self.runner.task.get("Templates") or [])
        self.task_dir = self.alloc.alloc_dir.task(self.runner.name).root
        self.quiescence = [Quiescence.of(t, self.catalog.settings) for t in self.templates]

    def mark_dirty(self, i: int) -> None:
        """A view of template `i` got new data (or lost the catalog)."""
        now = asyncio.get_running_loop().time()
        pending = self.pending.get(i)
        if pending is None:
            self.pending[i] = PendingChange(now, now)
        else:
            pending.last = now
        self.wake.set()

    def _source(self, tmpl: Obj) -> str:
        if tmpl.get("EmbeddedTmpl"):
            return str(tmpl["EmbeddedTmpl"])
        src = Path(str(tmpl.get("SourcePath") or ""))
        if not str(src):
            raise TemplateError("template has neither data nor source")
        path = src if src.is_absolute() else self.task_dir / src
        try:
            return path.read_text()
        except OSError as exc:
            raise TemplateError(f"reading template source {src}: {exc.strerror}") from None

    def _render(self, indices: Iterable[int]) -> dict[int, _Outcome]:
        env = self.alloc.task_env(self.runner.task)
        out = {}
        for i in indices:
            tmpl = self.templates[i]
            reads = _Reads(self.catalog)
            text: str | None = None
            missing = error = None
            try:
                nodes = parse(
                    self._source(tmpl),
                    str(tmpl.get("LeftDelim") or "{{"),
                    str(tmpl.get("RightDelim") or "}}"),
                )
                text = render(nodes, template_funcs(reads, env))
            except MissingData as exc:
                missing = exc.what
            except Exception as exc:  # a function's ValueError, KeyError...: the template's fault
                error = (
                    str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
                )
            if reads.unfetched:
                # Rendered with placeholders for data not fetched yet: not a result, and
                # not an error either (the placeholders may well have caused it).
                text, missing, error = None, None, None
            out[i] = _Outcome(text, reads.used, reads.unfetched, missing, error)
        return out

    async def _render_some(self, indices: Iterable[int]) -> dict[int, _Outcome]:
        outcomes = await asyncio.to_thread(self._render, list(indices))
        for i, outcome in outcomes.items():
            self.catalog.subscribe((self, i), outcome.used)
            before = self.deps.get(i, set())
            if outcome.text is not None:
                # A complete render read all it needs: views it no longer reads stop.
                await self.catalog.unsubscribe((self, i), before - outcome.used)
                self.deps[i] = set(outcome.used)
            else:
                self.deps[i] = before | outcome.used
        return outcomes

    def write(self, rendered: dict[int, str]) -> list[Obj]:
        """Write the templates whose text changed; returns those that changed after their
        first render."""
        changed = []
        root = self.alloc.alloc_dir.root.resolve()
        dests = {}
        for i in rendered:  # every destination checked before any file is written
            dest = (self.task_dir / str(self.templates[i].get("DestPath") or "")).resolve()
            if root not in dest.parents:
                raise TemplateError(
                    f"destination {self.templates[i].get('DestPath')!r} escapes the alloc dir"
                )
            dests[i] = dest
        for i, text in sorted(rendered.items()):
            tmpl, dest = self.templates[i], dests[i]
            if self.last.get(i) == text:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_text(text)
            tmp.chmod(int(str(tmpl.get("Perms") or "0644"), 8))
            os.replace(tmp, dest)
            if i in self.last:
                changed.append(tmpl)
            self.last[i] = text
        extra: dict[str, str] = {}
        for i, tmpl in enumerate(self.templates):
            if tmpl.get("Envvars") and i in self.last:
                extra.update(parse_env_file(self.last[i]))
        self.alloc.extra_env[self.runner.name] = extra
        return changed

    def load_rendered(self) -> None:
        """Take the files already rendered (a re-attached task's) as the last render."""
        for i, tmpl in enumerate(self.templates):
            dest = self.task_dir / str(tmpl.get("DestPath") or "")
            try:
                self.last[i] = dest.read_text()
            except OSError:
                continue  # never rendered (or removed): the next render writes it

    def _blocked_on(self, outcomes: dict[int, _Outcome]) -> str:
        """What the first render waits for, for the task's `Template` event."""
        for outcome in outcomes.values():
            if outcome.missing:
                return outcome.missing
        for outcome in outcomes.values():
            for dep in sorted(outcome.unfetched, key=str):
                view = self.catalog.view(dep)
                if view is not None and view.error:
                    return view.error
        return ""

    async def first_render(self) -> None:
        """Render every template before the task starts: as soon as the data is there
        (one plain read per dependency), waiting for keys that do not exist yet."""
        reported = ""
        todo = set(range(len(self.templates)))
        texts: dict[int, str] = {}
        while True:
            todo |= set(self.pending)
            self.pending.clear()
            self.wake.clear()
            outcomes = await self._render_some(todo)
            for i, outcome in outcomes.items():
                if outcome.error is not None:
                    raise TemplateError(outcome.error)
                if outcome.text is not None:
                    texts[i] = outcome.text
            todo = {i for i, outcome in outcomes.items() if outcome.text is None}
            if not todo:
                self.write(texts)
                return
            blocked = self._blocked_on(outcomes)
            if blocked and blocked != reported:
                reported = blocked
                self.runner.emit(ev.TEMPLATE, Message=f"Missing: {blocked}")
            if await self._wait_wake_or_killed():
                raise TaskSetupError(
                    ev.SETUP_FAILURE, "killed", SetupError="killed while rendering"
                )

    async def _wait_wake_or_killed(self) -> bool:
        woken = asyncio.ensure_future(self.wake.wait())
        killed = asyncio.ensure_future(self.runner.wait_killed(24 * 3600.0))
        try:
            await asyncio.wait({woken, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (woken, killed):
                fut.cancel()
        return killed.done() and not killed.cancelled() and killed.result()

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.wake.clear()
            now = loop.time()
            due_at = {i: self.quiescence[i].due(p) for i, p in self.pending.items()}
            due = [i for i, at in due_at.items() if at <= now]
            if not due:
                timeout = min(due_at.values()) - now if due_at else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout)
                continue
            for i in due:
                del self.pending[i]
            await self._rerender(due)

    async def _rerender(self, due: list[int]) -> None:
        outcomes = await self._render_some(due)
        texts = {}
        for i, outcome in outcomes.items():
            if outcome.error is not None:
                log.warning("task %s: template %d: %s", self.runner.name, i + 1, outcome.error)
            elif outcome.text is not None:
                texts[i] = outcome.text
        try:
            changed = self.write(texts)
        except (TemplateError, OSError) as exc:
            log.warning("task %s: template: %s", self.runner.name, exc)
            return
        if not changed or not self.runner.running:
            return
        modes = {str(t.get("ChangeMode") or "restart") for t in changed}
        if "restart" in modes:
            await self.runner.restart("Template with change_mode restart re-rendered")
        elif "signal" in modes:
            for t in changed:
                if t.get("ChangeMode") == "signal":
                    name = str(t.get("ChangeSignal") or "SIGHUP")
                    await self.runner.signal(parse_signal(name), name, "Template re-rendered")
        else:
            self.runner.emit(ev.TEMPLATE, Message="Template re-rendered")

    def start_watching(self) -> None:
        self.watcher = asyncio.create_task(self.watch(), name=f"template-{self.runner.name}")

    async def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        for i, deps in list(self.deps.items()):
            await self.catalog.unsubscribe((self, i), deps)
        self.deps.clear()


class TemplateHook(PrestartHook):
    def __init__(self, env: ClientEnv) -> None:
        self.env = env
        self.tasks: dict[tuple[str, str], _Task] = {}
        self.catalogs: dict[str, AllocCatalog] = {}
        self._users: dict[str, set[str]] = {}  # alloc id -> tasks using its catalog views

    def _catalog(self, alloc: AllocRunner) -> AllocCatalog:
        catalog = self.catalogs.get(alloc.id)
        if catalog is None:
            catalog = self.catalogs[alloc.id] = AllocCatalog(self.env.consul, self.env.templates)
            catalog.nomad = tn.source_for(self.env.nomad_services, alloc.id)
        return catalog

    async def _release(self, alloc_id: str, task: str) -> None:
        users = self._users.get(alloc_id, set())
        users.discard(task)
        if not users:
            self._users.pop(alloc_id, None)
            catalog = self.catalogs.pop(alloc_id, None)
            if catalog is not None:
                await catalog.close()

    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        if not runner.task.get("Templates"):
            return
        key = (alloc.id, runner.name)
        if key in self.tasks:
            return  # a restart: the watcher keeps the files current
        self._users.setdefault(alloc.id, set()).add(runner.name)
        state = _Task(alloc, runner, self._catalog(alloc))
        try:
            await state.first_render()
        except BaseException as exc:
            await state.close()
            await self._release(alloc.id, runner.name)
            if isinstance(exc, TemplateError):
                raise TaskSetupError(
                    ev.SETUP_FAILURE, str(exc), SetupError=f"failed to render template: {exc}"
                ) from None
            raise
        self.tasks[key] = state
        state.start_watching()

    async def recover(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        """Watch a re-attached task's templates again. The files on disk are what the task
        runs with: they are the baseline, so a template whose data changed while the client
        was away is written and its change_mode applied, and one that did not is left be."""
        if not runner.task.get("Templates"):
            return
        key = (alloc.id, runner.name)
        if key in self.tasks:
            return
        self._users.setdefault(alloc.id, set()).add(runner.name)
        state = _Task(alloc, runner, self._catalog(alloc))
        state.load_rendered()
        self.tasks[key] = state
        for i in range(len(state.templates)):
            state.mark_dirty(i)
        state.start_watching()

    async def stop(self, alloc: AllocRunner, task: str) -> None:
        state = self.tasks.pop((alloc.id, task), None)
        if state is not None:
            await state.close()
            await self._release(alloc.id, task)
