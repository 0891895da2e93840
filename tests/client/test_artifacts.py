"""Artifact fetching: checksums verified before anything is unpacked, headers sent, from
local files and a real HTTP server."""

from __future__ import annotations

import hashlib
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from yurt.client.artifacts import fetch


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "app.txt").write_text("payload\n")
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            data = (served / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _task(tmp_path: Path) -> Path:
    task = tmp_path / "task"
    task.mkdir()
    return task


def test_http_artifact_with_headers_and_a_matching_checksum(
    tmp_path: Path, server: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = server
    task = _task(tmp_path)
    digest = hashlib.sha256(b"payload\n").hexdigest()
    fetch(url + "/app.txt", task, "local/", "any", {"checksum": f"sha256:{digest}"},
          {"X-Token": "secret"})  # fmt: skip
    assert (task / "local" / "app.txt").read_text() == "payload\n"
    assert seen[-1]["X-Token"] == "secret"
    # A bare digest names its type by its length (md5 here).
    fetch(url + "/app.txt", task, "local/md5/", "any",
          {"checksum": hashlib.md5(b"payload\n").hexdigest()})  # fmt: skip
    assert (task / "local" / "md5" / "app.txt").exists()


def test_checksum_mismatch_fails_and_keeps_nothing(
    tmp_path: Path, server: tuple[str, list[dict[str, str]]]
) -> None:
    url, _ = server
    task = _task(tmp_path)
    with pytest.raises(ValueError) as err:
        fetch(url + "/app.txt", task, "local/", "any", {"checksum": "sha1:" + "0" * 40})
    assert "checksums did not match for app.txt" in str(err.value)
    assert "expected " + "0" * 40 in str(err.value)
    assert not (task / "local" / "app.txt").exists()


def test_archive_is_verified_before_it_is_unpacked(tmp_path: Path) -> None:
    src = tmp_path / "bundle"
    src.mkdir()
    (src / "run.sh").write_text("echo hi\n")
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(src / "run.sh", arcname="run.sh")
    good = hashlib.sha512(archive.read_bytes()).hexdigest()
    task = _task(tmp_path)
    with pytest.raises(ValueError):
        fetch(str(archive), task, "local/", "any", {"checksum": "sha512:" + "a" * 128})
    assert not (task / "local" / "run.sh").exists()
    fetch(str(archive), task, "local/", "any", {"checksum": "sha512:" + good})
    assert (task / "local" / "run.sh").read_text() == "echo hi\n"
    assert not (task / "local" / "bundle.tar.gz").exists()  # unpacked, as go-getter does


@pytest.mark.parametrize(
    ("checksum", "message"),
    [
        ("crc32:abcd", "unsupported checksum type 'crc32'"),
        ("sha256:xyz", "invalid sha256 checksum"),
        ("abc", "unknown checksum 'abc'"),
    ],
)
def test_bad_checksum_option_is_named(tmp_path: Path, checksum: str, message: str) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    task = _task(tmp_path)
    with pytest.raises(ValueError) as err:
        fetch(str(src), task, "local/", "any", {"checksum": checksum})
    assert message in str(err.value)
    assert not (task / "local").exists()  # refused before anything is fetched
