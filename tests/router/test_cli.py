"""`yurt router` as a process: Fabio's flags, the table from the catalog, `yurt router routes`,
self-registration and deregistration on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.router.conftest import Catalog
from tests.support.process import YurtProcess, free_port, wait_http


def wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`python3 -m http.server` serving one file: a real upstream in its own process."""
    root = tmp_path_factory.mktemp("files")
    (root / "hello.txt").write_text("hello from upstream\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_router_process_end_to_end(consul: Catalog, files: int, tmp_path: Path) -> None:
    consul.register("files-1", "files", files, ["urlprefix-/files strip=/files"])
    proxy, ui = free_port(), free_port()
    args = [
        "router",
        "-proxy.addr",
        f"127.0.0.1:{proxy}",
        "-ui.addr",
        f"127.0.0.1:{ui}",
        "-registry.consul.addr",
        consul.addr,
        "-proxy.strategy=rr",
    ]
    with YurtProcess(
        args, ready_url=f"http://127.0.0.1:{ui}/health", log_path=tmp_path / "router.log"
    ) as router:
        wait(lambda: fetch(f"http://127.0.0.1:{proxy}/files/hello.txt")[0] == 200)
        assert fetch(f"http://127.0.0.1:{proxy}/files/hello.txt") == (
            200,
            b"hello from upstream\n",
        )
        assert fetch(f"http://127.0.0.1:{proxy}/elsewhere")[0] == 404

        out = subprocess.run(
            [sys.executable, "-m", "yurt", "router", "routes", "-ui.addr", f"127.0.0.1:{ui}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        line = f'route add files /files http://127.0.0.1:{files}/ opts "strip=/files"'
        assert out == line + "\n"
        # log.routes.format=delta: every change of the table is logged as added/removed lines
        assert f"+ {line}" in router.log()

        def registered() -> bool:
            return any(
                s["Service"] == "fabio" and s["Port"] == ui for s in consul.services().values()
            )

        wait(registered)
        assert router.stop() == 0, router.log()
    assert not registered()
    consul.deregister("files-1")


def test_bad_flag_is_reported() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "yurt", "router", "-proxy.nope", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert "flag provided but not defined: -proxy.nope" in res.stderr


def test_routes_without_a_router_fails_clearly() -> None:
    port = free_port()
    res = subprocess.run(
        [sys.executable, "-m", "yurt", "router", "routes", "-ui.addr", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 1
    assert f"cannot read http://127.0.0.1:{port}/api/routes?raw" in res.stderr


def test_help_lists_fabios_properties() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "yurt", "router", "-help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "  -registry.consul.addr\n" in res.stdout
    assert '(default "localhost:8500")' in res.stdout
    assert "yurt router routes" in res.stdout


def test_file_backend_needs_no_catalog(files: int, tmp_path: Path) -> None:
    """Fabio's `registry.backend=file`: routes from a file, nothing registered anywhere; the
    catalog address points at a port where nothing listens."""
    routes = tmp_path / "routes.txt"
    routes.write_text(
        "# the files server\n"
        f'route add files /files http://127.0.0.1:{files}/ opts "strip=/files"\n'
    )
    noroute = tmp_path / "noroute.html"
    noroute.write_text("<h1>nothing here</h1>")
    proxy, ui = free_port(), free_port()
    args = [
        "router",
        "-proxy.addr",
        f"127.0.0.1:{proxy}",
        "-ui.addr",
        f"127.0.0.1:{ui}",
        "-registry.consul.addr",
        f"127.0.0.1:{free_port()}",
        "-registry.backend",
        "file",
        "-registry.file.path",
        str(routes),
        "-registry.file.noroutehtmlpath",
        str(noroute),
    ]
    with YurtProcess(
        args, ready_url=f"http://127.0.0.1:{ui}/health", log_path=tmp_path / "router.log"
    ) as router:
        assert fetch(f"http://127.0.0.1:{proxy}/files/hello.txt") == (200, b"hello from upstream\n")
        assert fetch(f"http://127.0.0.1:{proxy}/elsewhere") == (404, b"<h1>nothing here</h1>")
        assert fetch(f"http://127.0.0.1:{ui}/api/manual") == (200, b'{"value": "", "version": "0"}')
        put = urllib.request.Request(
            f"http://127.0.0.1:{ui}/api/manual", data=b'{"value": ""}', method="PUT"
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(put, timeout=5)
        assert err.value.code == 400
        assert b"manual routes need registry.backend=consul" in err.value.read()
        assert router.stop() == 0, router.log()


def test_static_backend_errors_name_the_line() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "yurt", "router", "-registry.backend", "static",
         "-registry.static.routes", "route add a / http://127.0.0.1:1/\nroute bogus",
         # Free ports: a router or agent already on :9999/:9998 must not change the answer.
         "-proxy.addr", "127.0.0.1:0", "-ui.addr", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert res.returncode != 0
    assert "registry.static.routes:2:" in res.stderr
