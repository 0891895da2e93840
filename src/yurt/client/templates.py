"""`template` blocks: consul-template's common functions over the catalog's HTTP API
(`key`, `keyOrDefault`, `ls`, `service`, `services`, `env`, and text helpers), rendered before
the task starts and re-rendered when the data changes, with `change_mode` restart, signal
or noop, and `env = true` templates feeding the task's environment.

Data is read with plain HTTP calls to the catalog and watched by polling once a second,
rather than with consul-template's blocking queries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from yurt.client import events as ev
from yurt.client.alloc_runner import AllocRunner, ClientEnv, PrestartHook
from yurt.client.drivers.base import parse_signal
from yurt.client.gotemplate import MissingData, TemplateError, parse, render
from yurt.client.task_runner import TaskRunner, TaskSetupError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_POLL = 1.0


class CatalogReader:
    """Synchronous reads for template functions (templates render on a worker thread)."""

    def __init__(self, addr: str | None) -> None:
        self.base = None if addr is None else (addr if "://" in addr else f"http://{addr}")

    def _get(self, path: str, **params: str) -> Any:
        if self.base is None:
            raise TemplateError("templates that read the catalog need a consul address")
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.base}{path}{query}", timeout=10) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise TemplateError(f"catalog answered {exc.code} for {path}") from None
        except OSError as exc:
            raise MissingData(f"catalog unreachable ({exc})") from None

    def key(self, path: str) -> str | None:
        found = self._get(f"/v1/kv/{urllib.parse.quote(path.lstrip('/'))}")
        if not found:
            return None
        import base64

        raw = found[0].get("Value")
        return "" if raw is None else base64.b64decode(raw).decode(errors="replace")

    def ls(self, prefix: str) -> list[Obj]:
        import base64

        found = self._get(f"/v1/kv/{urllib.parse.quote(prefix.lstrip('/'))}", recurse="") or []
        base = prefix.lstrip("/").rstrip("/") + "/"
        out = []
        for item in found:
            rel = str(item["Key"])[len(base) :] if str(item["Key"]).startswith(base) else ""
            if rel and "/" not in rel:
                value = base64.b64decode(item.get("Value") or b"").decode(errors="replace")
                out.append({"Key": rel, "Value": value})
        return out

    def service(self, spec: str) -> list[Obj]:
        tag, _, name = spec.rpartition(".")
        name, _, dc = name.partition("@")
        params = {"passing": ""}
        if tag:
            params["tag"] = tag
        if dc:
            params["dc"] = dc
        entries = self._get(f"/v1/health/service/{urllib.parse.quote(name)}", **params) or []
        out = []
        for e in entries:
            svc, node = e.get("Service") or {}, e.get("Node") or {}
            out.append(
                {
                    "ID": svc.get("ID", ""),
                    "Name": svc.get("Service", ""),
                    "Address": svc.get("Address") or node.get("Address", ""),
                    "Port": svc.get("Port", 0),
                    "Tags": list(svc.get("Tags") or []),
                    "ServiceMeta": dict(svc.get("Meta") or {}),
                    "Node": node.get("Node", ""),
                    "NodeAddress": node.get("Address", ""),
                    "Status": "passing",
                }
            )
        return out

    def services(self) -> list[Obj]:
        found = self._get("/v1/catalog/services") or {}
        return [{"Name": k, "Tags": list(v or [])} for k, v in sorted(found.items())]


def template_funcs(reader: CatalogReader, env: dict[str, str]) -> dict[str, Any]:
    def key(path: str) -> str:
        value = reader.key(path)
        if value is None:
            raise MissingData(f"kv.block({path})")
        return value

    def key_or_default(path: str, default: str) -> str:
        value = reader.key(path)
        return default if value is None else value

    def printf(fmt: str, *args: Any) -> str:
        return fmt.replace("%v", "%s").replace("%q", '"%s"') % args if args else fmt

    return {
        "env": lambda name: env.get(name, ""),
        "key": key,
        "keyOrDefault": key_or_default,
        "ls": reader.ls,
        "service": reader.service,
        "services": reader.services,
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


class _Task:
    """The templates of one task, rendered together."""

    def __init__(self, alloc: AllocRunner, runner: TaskRunner, reader: CatalogReader) -> None:
        self.alloc = alloc
        self.runner = runner
        self.reader = reader
        self.task_dir = alloc.alloc_dir.task(runner.name).root
        self.last: dict[int, str] = {}
        self.watcher: asyncio.Task[None] | None = None

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

    def render_all(self) -> dict[int, str]:
        env = self.alloc.task_env(self.runner.task)
        funcs = template_funcs(self.reader, env)
        out = {}
        for i, tmpl in enumerate(self.runner.task.get("Templates") or []):
            nodes = parse(
                self._source(tmpl),
                str(tmpl.get("LeftDelim") or "{{"),
                str(tmpl.get("RightDelim") or "}}"),
            )
            out[i] = render(nodes, funcs)
        return out

    def write(self, rendered: dict[int, str]) -> list[Obj]:
        """Write what changed; returns the templates that changed."""
        changed = []
        root = self.alloc.alloc_dir.root.resolve()
        extra: dict[str, str] = {}
        for i, tmpl in enumerate(self.runner.task.get("Templates") or []):
            text = rendered[i]
            dest = (self.task_dir / str(tmpl.get("DestPath") or "")).resolve()
            if root not in dest.parents:
                raise TemplateError(f"destination {tmpl.get('DestPath')!r} escapes the alloc dir")
            if self.last.get(i) != text:
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.tmp")
                tmp.write_text(text)
                tmp.chmod(int(str(tmpl.get("Perms") or "0644"), 8))
                os.replace(tmp, dest)
                if i in self.last:
                    changed.append(tmpl)
                self.last[i] = text
            if tmpl.get("Envvars"):
                extra.update(parse_env_file(text))
        self.alloc.extra_env[self.runner.name] = extra
        return changed

    async def first_render(self) -> None:
        reported = ""
        while True:
            try:
                rendered = await asyncio.to_thread(self.render_all)
                self.write(rendered)
                return
            except MissingData as exc:
                if exc.what != reported:
                    reported = exc.what
                    self.runner.emit(ev.TEMPLATE, Message=f"Missing: {exc.what}")
            if await self.runner.wait_killed(_POLL):
                raise TaskSetupError(
                    ev.SETUP_FAILURE, "killed", SetupError="killed while rendering"
                )

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(_POLL)
            try:
                rendered = await asyncio.to_thread(self.render_all)
                changed = self.write(rendered)
            except MissingData:
                continue
            except (TemplateError, OSError) as exc:
                log.warning("task %s: template: %s", self.runner.name, exc)
                continue
            if not changed or not self.runner.running:
                continue
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


class TemplateHook(PrestartHook):
    def __init__(self, env: ClientEnv) -> None:
        self.reader = CatalogReader(None)
        self.env = env
        self.tasks: dict[tuple[str, str], _Task] = {}

    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        if not runner.task.get("Templates"):
            return
        key = (alloc.id, runner.name)
        if key in self.tasks:
            return  # a restart: the watcher keeps the files current
        if self.env.consul is not None and self.reader.base is None:
            self.reader = CatalogReader(self.env.consul.base)
        state = _Task(alloc, runner, self.reader)
        try:
            await state.first_render()
        except TemplateError as exc:
            raise TaskSetupError(
                ev.SETUP_FAILURE, str(exc), SetupError=f"failed to render template: {exc}"
            ) from None
        self.tasks[key] = state
        state.watcher = asyncio.create_task(state.watch(), name=f"template-{runner.name}")

    async def stop(self, alloc: AllocRunner, task: str) -> None:
        state = self.tasks.pop((alloc.id, task), None)
        if state is not None and state.watcher is not None:
            state.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.watcher
