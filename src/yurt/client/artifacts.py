"""`artifact` blocks: fetch a local path or an http(s) URL into the task directory before
the task starts (`destination` defaults to `local/`; `mode` file or dir), with go-getter's
`options { checksum = "type:hex" }` verified before anything is unpacked, and `headers`
sent with http(s) requests."""

from __future__ import annotations

import asyncio
import hashlib
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


_CHECKSUMS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def _expected_checksum(spec: str) -> tuple[str, str]:
    """go-getter's `checksum` option: `type:hex`, or a bare hex digest whose length names its
    type."""
    kind, sep, digest = spec.partition(":")
    if not sep:
        kind, digest = "", spec
    digest = digest.strip().lower()
    if not kind:
        found = [k for k, n in _CHECKSUMS.items() if n == len(digest)]
        if not found:
            raise ValueError(
                f"unknown checksum {spec!r}: expected type:hex (md5, sha1, sha256, sha512)"
            )
        kind = found[0]
    if kind not in _CHECKSUMS:
        raise ValueError(f"unsupported checksum type {kind!r}: use md5, sha1, sha256 or sha512")
    if len(digest) != _CHECKSUMS[kind] or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"invalid {kind} checksum {digest!r}")
    return kind, digest


def _verify(path: Path, kind: str, expected: str) -> None:
    h = hashlib.new(kind)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != expected:
        path.unlink()
        raise ValueError(
            f"checksums did not match for {path.name}: expected {expected}, got {h.hexdigest()}"
        )


def fetch(
    source: str,
    task_dir: Path,
    destination: str,
    mode: str,
    options: dict[str, str],
    headers: dict[str, str] | None = None,
) -> None:
    checksum = _expected_checksum(options["checksum"]) if options.get("checksum") else None
    dest = (task_dir / (destination or "local/")).resolve()
    if task_dir.resolve() not in (dest, *dest.parents):
        raise ValueError(f"destination {destination!r} escapes the task directory")
    parsed = urllib.parse.urlparse(source)
    target_is_file = mode == "file"
    if parsed.scheme in ("http", "https"):
        filename = Path(parsed.path).name or "artifact"
        out = dest if target_is_file else dest / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        request = urllib.request.Request(source, headers=headers or {})
        with urllib.request.urlopen(request, timeout=60) as resp, out.open("wb") as f:
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
            if checksum:
                raise ValueError("a checksum needs a file, not the directory " + str(src))
            shutil.copytree(src, dest, dirs_exist_ok=True)
            return
        out = dest if target_is_file else dest / src.name
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
    else:
        raise ValueError(f"unsupported artifact scheme {parsed.scheme!r} (http, https, file)")
    if checksum:
        _verify(out, *checksum)
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
                    {str(k): str(v) for k, v in (art.get("GetterHeaders") or {}).items()},
                )
            except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
                raise TaskSetupError(
                    ev.ARTIFACT_FAILED,
                    str(exc),
                    DownloadError=f"failed to download artifact {source!r}: {exc}",
                ) from None
