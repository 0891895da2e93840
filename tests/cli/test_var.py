"""`yurt var init|get|put|list|purge|lock` as `nomad var`, against a scheduler served on its
own event loop in a thread (click's runner calls the commands in this process): outputs,
`-out` formats, `-check-index` and the Check-and-Set conflict text, `@file`/`-` inputs
and `key=value` items; the spec formats and renderings by tables."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from yurt.cli import var_format as f
from yurt.cli.var import var
from yurt.scheduler import SchedulerConfig, SchedulerServer


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    server = SchedulerServer(
        SchedulerConfig(http_port=0, data_dir=tmp_path_factory.mktemp("var-cli"))
    )
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield server.address
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def run(address: str, *args: str, stdin: str = "", ok: bool = True) -> Any:
    result = CliRunner().invoke(var, [*args, "-address", address], input=stdin)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_put_get_list_purge(address: str) -> None:
    made = run(address, "put", "-out", "none", "app/db", "user=me", "pass=pw")
    assert made.output.startswith('Created variable "app/db" with modify index ')
    index = int(made.output.split()[-1])
    got = run(address, "get", "-out", "json", "app/db")
    body = json.loads(got.output)
    assert body["Items"] == {"pass": "pw", "user": "me"} and body["ModifyIndex"] == index
    assert run(address, "get", "-item", "user", "app/db").output == "me"
    table = run(address, "get", "-out", "table", "app/db").output
    assert "Path        = app/db" in table and f"Check Index = {index}" in table
    assert table.rstrip().endswith("pass = pw\nuser = me")
    tmpl = run(address, "get", "-out", "go-template", "-template", "{{.Path}}!", "app/db")
    assert tmpl.output == "app/db!\n"
    listed = run(address, "list", "app").output.splitlines()
    assert listed[0].split() == ["Namespace", "Path", "Last", "Updated"]
    assert listed[1].split()[:2] == ["default", "app/db"]
    assert run(address, "list", "-q").output.splitlines() == ["app/db"]
    gone = run(address, "purge", "app/db")
    assert gone.output == 'Successfully purged variable "app/db"!\n'
    missing = run(address, "get", "app/db", ok=False)
    assert missing.exit_code == 1 and "Variable not found" in missing.output
    assert run(address, "list", "app").output.strip() == f.NO_MATCHES


def test_put_is_check_and_set_unless_forced(address: str) -> None:
    first = run(address, "put", "-out", "json", "cfg", "v=1")
    index = json.loads(first.output)["ModifyIndex"]
    clash = run(address, "put", "cfg", "v=2", ok=False)
    assert clash.exit_code == 1
    assert "Check-and-Set conflict" in clash.output
    assert f"does not match the server-side index ({index})" in clash.output
    assert f"-check-index={index}" in clash.output
    run(address, "put", "-check-index", str(index), "cfg", "v=2")
    run(address, "put", "-force", "cfg", "v=3", "extra=x")
    assert run(address, "get", "-item", "v", "cfg").output == "3"
    stale = run(address, "purge", "-check-index", str(index), "cfg", ok=False)
    assert stale.exit_code == 1 and "Check-and-Set conflict" in stale.output


def test_put_reads_specs_files_and_stdin(address: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.nv.hcl"
    spec.write_text('path = "from/spec"\nitems {\n  a = "1"\n  b = "2"\n}\n')
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    run(address, "put", f"@{spec}", f"c=@{secret}", "b=")
    body = json.loads(run(address, "get", "-out", "json", "from/spec").output)
    assert body["Items"] == {"a": "1", "c": "s3cret"}
    piped = json.dumps({"Path": "from/stdin", "Items": {"k": "v"}})
    run(address, "put", "-", "extra=1", stdin=piped)
    assert run(address, "get", "-item", "k", "from/stdin").output == "v"
    run(address, "put", "lit", "k=\\@not-a-file")
    assert run(address, "get", "-item", "k", "lit").output == "@not-a-file"
    bad = run(address, "put", "only-a-path", ok=False)
    assert bad.exit_code == 1 and "Must supply data" in bad.output
    wrong = run(address, "put", "-out", "yaml", "p", "k=v", ok=False)
    assert f.INVALID_OUT in wrong.output
    refused = run(address, "put", "-force", "nomad", "k=v", ok=False)
    assert refused.exit_code == 1
    assert "Error creating variable: Unexpected response code: 400" in refused.output


def test_init_writes_a_spec_put_accepts(address: str, tmp_path: Path) -> None:
    target = tmp_path / "spec.nv.hcl"
    made = CliRunner().invoke(var, ["init", str(target)])
    assert made.output == f"Example variable specification written to {target}\n"
    again = CliRunner().invoke(var, ["init", str(target)])
    assert again.exit_code == 1 and "already exists" in again.output
    run(address, "put", "from/init", f"@{target}")
    assert run(address, "get", "-item", "key1", "from/init").output == "value 1"


# --- pure renderings and parsing -----------------------------------------------------------

VAR = {
    "Namespace": "default",
    "Path": "a/b",
    "CreateIndex": 3,
    "ModifyIndex": 3,
    "CreateTime": 1_700_000_000_000_000_000,
    "ModifyTime": 1_700_000_000_000_000_000,
    "Items": {"long_key": "1", "k": "two"},
}


def test_hcl_rendering_pads_keys_as_nomad() -> None:
    out = f.hcl(VAR)
    assert 'namespace    = "default"' in out
    assert "modify_index = 3  # Set by server; consulted for check-and-set" in out
    assert '         k = "two"\n  long_key = "1"\n}' in out
    assert f.parse_spec(out, "hcl")["Items"] == {"k": "two", "long_key": "1"}


@pytest.mark.parametrize(
    ("out", "template", "error"),
    [
        ("json", "", None),
        ("table", "", None),
        ("go-template", "{{.Path}}", None),
        ("go-template", "", f.MISSING_TEMPLATE),
        ("json", "{{.Path}}", f.UNEXPECTED_TEMPLATE),
        ("xml", "", f.INVALID_OUT),
    ],
)
def test_output_flags(out: str, template: str, error: str | None) -> None:
    assert f.check_output(out, template) == error


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["a=1"], {"a": "1"}),
        (["a=1=2"], {"a": "1=2"}),
        (["a="], {"a": ""}),
        (["a=-"], {"a": "from stdin"}),
        (["a=\\@x"], {"a": "@x"}),
    ],
)
def test_items(args: list[str], want: dict[str, str]) -> None:
    assert f.parse_items(args, lambda: "from stdin") == want


def test_items_need_an_equals_sign() -> None:
    with pytest.raises(f.SpecError, match="format must be key=value"):
        f.parse_items(["novalue"], lambda: "")


def test_the_cas_conflict_text() -> None:
    text = f.cas_conflict(0, VAR)
    assert "Check-and-Set conflict" in text
    assert "Your provided check-index (0) does not match the server-side index (3)." in text
    assert "The server-side item was last updated on " in text


@pytest.mark.process  # the lock's child command is a process
def test_lock_holds_the_variable_while_its_command_runs(address: str, tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    probe = f"curl -s {address}/v1/var/leader/job > {seen}; exit 3"
    result = run(address, "lock", "-ttl", "10s", "leader/job", probe, ok=False)
    assert result.exit_code == 3, result.output
    assert json.loads(seen.read_text())["Lock"]["TTL"] == "10s"
    again = run(address, "lock", "leader/job", "true")
    assert again.exit_code == 0
    body = json.loads(run(address, "get", "-out", "json", "leader/job").output)
    assert "Lock" not in body
