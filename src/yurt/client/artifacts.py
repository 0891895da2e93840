"""`artifact` blocks: fetch a local path or an http(s) URL into the task directory before
the task starts (`destination` defaults to `local/`; `mode` file or dir)."""

from __future__ import annotations

import asyncio
import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from yurt.client import events as ev
from yurt.client.alloc_runner import AllocRunner, PrestartHook
from yurt.client.task_runner import TaskRunner, TaskSetupError
from yurt.client.taskenv import interpolate

_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


def _unpack(path: Path, dest: Path) -> bool:
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            z.extractall(dest)
        return True
    if any(name.endswith(ext) for ext in _ARCHIVES):
        with tarfile.open(path) as t:
            t.extractall(dest, filter="data")
        return True
    return False


def fetch(
    source: str, task_dir: Path, destination: str, mode: str, options: dict[str, str]
) -> None:
    dest = (task_dir / (destination or "local/")).resolve()
    if task_dir.resolve() not in (dest, *dest.parents):
        raise ValueError(f"destination {destination!r} escapes the task directory")
    parsed = urllib.parse.urlparse(source)
    target_is_file = mode == "file"
    if parsed.scheme in ("http", "https"):
        filename = Path(parsed.path).name or "artifact"
        out = dest if target_is_file else dest / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(source, timeout=60) as resp, out.open("wb") as f:
            if resp.status >= 300:
                raise ValueError(f"bad response code: {resp.status}")
            shutil.copyfileobj(resp, f)
    elif parsed.scheme in ("", "file"):
        src = Path(parsed.path if parsed.scheme == "file" else source)
        if not src.is_absolute():
            src = task_dir / src
        if not src.exists():
            raise ValueError(f"source {src} does not exist")
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
            return
        out = dest if target_is_file else dest / src.name
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
    else:
        raise ValueError(f"unsupported artifact scheme {parsed.scheme!r} (http, https, file)")
    if not target_is_file and options.get("archive", "true") != "false" and _unpack(out, dest):
        out.unlink()


class ArtifactHook(PrestartHook):
    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        artifacts = runner.task.get("Artifacts") or []
        if not artifacts or runner.state.restarts:
            return
        runner.emit(ev.DOWNLOADING)
        env = alloc.task_env(runner.task)
        task_dir = alloc.alloc_dir.task(runner.name).root
        for art in artifacts:
            art = interpolate(art, env, alloc.env.node)
            source = str(art.get("GetterSource") or "")
            try:
                await asyncio.to_thread(
                    fetch,
                    source,
                    task_dir,
                    str(art.get("RelativeDest") or "local/"),
                    str(art.get("GetterMode") or "any"),
                    {str(k): str(v) for k, v in (art.get("GetterOptions") or {}).items()},
                )
            except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
                raise TaskSetupError(
                    ev.ARTIFACT_FAILED,
                    str(exc),
                    DownloadError=f"failed to download artifact {source!r}: {exc}",
                ) from None
