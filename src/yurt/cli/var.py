"""`yurt var init | get | put | list | purge | lock`, as `nomad var ...`: the same
arguments, flags (`-out json|table|hcl|go-template|none`, `-check-index`, `-force`, `-in`,
`@file` and `-` inputs, `key=value` items) and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from yurt.api.durations import SECOND, parse_go_duration
from yurt.cli import var_format as f
from yurt.cli.common import address_option, client, nomad_command
from yurt.cli.nomad_http import NomadError, NomadHTTP

Obj = dict[str, Any]


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _sayer(verbose: bool) -> Callable[[str], None]:
    """`-verbose`'s messages go to stderr, keeping stdout for the output."""

    def say(message: str) -> None:
        if verbose:
            click.echo(message, err=True)

    return say


def _tty() -> bool:
    return sys.stdout.isatty()


def _call(
    api: NomadHTTP, method: str, path: str, params: dict[str, str], body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON or text, headers) for any status: a 409's body is the conflict."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api.url(path, params or None), data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if api.token:
        req.add_header("X-Nomad-Token", api.token)
    try:
        with urllib.request.urlopen(req, timeout=api.timeout, context=api.ssl_context) as resp:
            status, raw, headers = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), dict(exc.headers.items())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NomadError(f'{method.capitalize()} "{api.url(path, params)}": {reason}') from None
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text) if text.strip() else None, headers
    except json.JSONDecodeError:
        return status, text.strip(), headers


def _var_path(path: str) -> str:
    return "/v1/var/" + urllib.parse.quote(path.strip().strip("/"), safe="/")


def _ns_params(namespace: str | None) -> dict[str, str]:
    return {"namespace": namespace} if namespace else {}


def _namespace_option(f_: Any) -> Any:
    return click.option(
        "-namespace",
        "--namespace",
        "namespace",
        default=lambda: os.environ.get("NOMAD_NAMESPACE") or None,
        metavar="NS",
        help="The target namespace (default: NOMAD_NAMESPACE or default).",
    )(f_)


def _unexpected(status: int, data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"Unexpected response code: {status} ({text})"


@click.group("var")
def var() -> None:
    """Interact with variables (as `nomad var`)."""


# --- init ------------------------------------------------------------------------------


@var.command("init")
@click.argument("filename", required=False)
@click.option("-out", "--out", "out", default="hcl", help="Format: hcl or json.")
@click.option("-quiet", "--quiet", "quiet", is_flag=True, help="Print no success message.")
def init(filename: str | None, out: str, quiet: bool) -> None:
    """Create an example variable specification file."""
    if out not in ("hcl", "json"):
        _fail('Invalid value for "-out"; valid values are [hcl, json]')
    name = filename or f"spec.nv.{out}"
    target = Path(name)
    if target.exists():
        _fail(f"Variable specification '{name}' already exists")
    try:
        target.write_text(f.SPEC_HCL if out == "hcl" else f.SPEC_JSON + "\n")
    except OSError as exc:
        _fail(f"Failed to write '{name}': {exc}")
    if not quiet:
        click.echo(f"Example variable specification written to {name}")


# --- get -------------------------------------------------------------------------------


@var.command("get")
@click.argument("path")
@click.option("-item", "--item", "item", default="", help="Print only this item's value.")
@click.option("-out", "--out", "out", default=None, help="go-template|hcl|json|none|table")
@click.option("-template", "--template", "template", default="", help="Go template for -out.")
@_namespace_option
@address_option
@nomad_command
def get(
    path: str, item: str, out: str | None, template: str, namespace: str | None, address: str | None
) -> None:
    """Read a variable."""
    out = out or ("table" if _tty() else "json")
    error = f.check_output(out, template)
    if error:
        _fail(error)
    if namespace == "*":
        _fail(f.WILDCARD)
    status, data, _ = _call(client(address), "GET", _var_path(path), _ns_params(namespace))
    if status == 404:
        _fail(f.NOT_FOUND)
    if status != 200:
        _fail(f"Error retrieving variable: {_unexpected(status, data)}")
    if item:
        items = data.get("Items") or {}
        if item not in items:
            _fail(f'Variable does not contain "{item}" item')
        click.echo(items[item], nl=False)
        return
    if out == "none":
        return
    try:
        click.echo(f.render_var(data, out, template))
    except f.SpecError as exc:
        _fail(str(exc))


# --- put -------------------------------------------------------------------------------


def _read_spec(ref: str, fmt: str) -> tuple[str, str]:
    """(text, format) of `-` (stdin, in `-in`'s format) or `@file` (by its extension)."""
    if ref == "-":
        return sys.stdin.read(), fmt
    file = ref[1:]
    found = f.format_for(file)
    if found is None:
        _fail(f"Unable to determine format of {file}; Use the -in flag to specify it.")
    try:
        return Path(file).read_text(), found
    except OSError as exc:
        _fail(f'Error reading "{file}": {exc.strerror or exc}')


def _is_ref(arg: str) -> bool:
    return arg == "-" or (arg.startswith("@") and not arg.startswith("\\@"))


@var.command("put", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, required=True)
@click.option("-check-index", "--check-index", "check_index", default="", help="CAS index.")
@click.option("-force", "--force", "force", is_flag=True, help="Write whatever the index.")
@click.option("-in", "--in", "in_fmt", default="json", help="Spec format on stdin: hcl|json.")
@click.option("-out", "--out", "out", default=None, help="go-template|hcl|json|none|table")
@click.option("-template", "--template", "template", default="", help="Go template for -out.")
@click.option("-verbose", "--verbose", "verbose", is_flag=True, help="Say more on stderr.")
@_namespace_option
@address_option
@nomad_command
def put(
    args: tuple[str, ...],
    check_index: str,
    force: bool,
    in_fmt: str,
    out: str | None,
    template: str,
    verbose: bool,
    namespace: str | None,
    address: str | None,
) -> None:
    """Create or update a variable: `put <path> [@spec|-] [key=value]...` or
    `put @spec|- [key=value]...`."""
    say = _sayer(verbose)
    out = out or ("none" if _tty() else "json")
    cas: int | None = None
    if check_index:
        if not check_index.isdigit():
            _fail(f'Error parsing check-index value "{check_index}": invalid syntax')
        cas = int(check_index)
    if namespace == "*":
        _fail(f.WILDCARD)
    if len(args) == 1 and not _is_ref(args[0]):
        _fail("Must supply data")
    if in_fmt not in ("hcl", "json"):
        _fail(f.INVALID_IN)
    error = f.check_output(out, template)
    if error:
        _fail(error)
    rest = list(args)
    path, text, fmt = "", "", in_fmt
    if _is_ref(rest[0]):
        text, fmt = _read_spec(rest.pop(0), in_fmt)
        say(f"Reading whole {fmt.upper()} variable specification")
    else:
        path = rest.pop(0).strip().strip("/")
        say(f'Writing to path "{path}"')
        if rest and _is_ref(rest[0]):
            text, fmt = _read_spec(rest.pop(0), in_fmt)
    try:
        spec = f.parse_spec(text, fmt) if text else {}
        items = f.parse_items(rest, sys.stdin.read)
    except f.SpecError as exc:
        _fail(f"Failed to parse variable data: {exc}")
    variable = _merge(spec, path, namespace, items, say)
    if cas is not None:
        variable["ModifyIndex"] = cas
    params = _ns_params(variable.get("Namespace"))
    if not force:
        params["cas"] = str(variable.get("ModifyIndex") or 0)
    api = client(address)
    status, data, _ = _call(api, "PUT", _var_path(variable["Path"]), params, variable)
    if status == 409:
        click.echo(f.cas_conflict(int(params.get("cas") or 0), data or {}), err=True)
        sys.exit(1)
    if status != 200:
        _fail(f"Error creating variable: {_unexpected(status, data)}")
    success = f'Created variable "{data["Path"]}" with modify index {data["ModifyIndex"]}'
    if out == "none":
        click.echo(success)
        return
    say(success)
    try:
        click.echo(f.render_var(data, out, template))
    except f.SpecError as exc:
        _fail(str(exc))


def _merge(
    spec: Obj, path: str, namespace: str | None, items: dict[str, str], say: Callable[[str], None]
) -> Obj:
    """The variable to write: the spec, stepped on by `-namespace` and the path argument
    (which reset its indexes, as a copy), then the `key=value` items (empty removes)."""
    variable: Obj = dict(spec)
    variable["Items"] = dict(spec.get("Items") or {})
    reset = False
    if namespace and namespace != variable.get("Namespace"):
        variable["Namespace"] = namespace
        reset = True
    if path and path != variable.get("Path"):
        variable["Path"] = path
        reset = True
    if reset:
        for key in ("CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime"):
            variable[key] = 0
    for key, value in items.items():
        if value == "":
            if variable["Items"].pop(key, None) is not None:
                say(f'Removed item "{key}"')
            continue
        variable["Items"][key] = value
    if not variable.get("Path"):
        _fail("Failed to parse variable data: variable requires path")
    return variable


# --- list ------------------------------------------------------------------------------


@var.command("list")
@click.argument("prefix", required=False, default="")
@click.option("-per-page", "--per-page", "per_page", type=int, default=0)
@click.option("-page-token", "--page-token", "page_token", default="")
@click.option("-filter", "--filter", "filter_", default="")
@click.option("-json", "--json", "as_json", is_flag=True)
@click.option("-t", "--t", "tmpl", default="")
@click.option("-q", "--q", "quiet", is_flag=True)
@_namespace_option
@address_option
@nomad_command
def list_(
    prefix: str,
    per_page: int,
    page_token: str,
    filter_: str,
    as_json: bool,
    tmpl: str,
    quiet: bool,
    namespace: str | None,
    address: str | None,
) -> None:
    """List variable metadata (paths starting with PREFIX)."""
    if filter_:
        click.echo(
            "Filter queries require a full scan of the data; use prefix searching where possible",
            err=True,
        )
    params = {"prefix": prefix, **_ns_params(namespace)}
    if per_page:
        params["per_page"] = str(per_page)
    if page_token:
        params["next_token"] = page_token
    if filter_:
        params["filter"] = filter_
    status, data, headers = _call(client(address), "GET", "/v1/vars", params)
    if status != 200:
        _fail(f"Error retrieving vars: {_unexpected(status, data)}")
    vars_: list[Obj] = data or []
    token = headers.get("X-Nomad-NextToken", "")
    everywhere = namespace == "*"
    if as_json:
        shown: Any = vars_
        if quiet:
            shown = (
                [{"Namespace": v["Namespace"], "Path": v["Path"]} for v in vars_]
                if everywhere
                else [v["Path"] for v in vars_]
            )
        if per_page:
            shown = {"Data": shown, "QueryMeta": {"NextToken": token}}
        click.echo(json.dumps(shown, indent=4))
        return
    if quiet:
        rows = [f"{v['Namespace']}|{v['Path']}" if everywhere else v["Path"] for v in vars_]
        click.echo("\n".join(rows))
    elif tmpl:
        try:
            click.echo(
                f.go_template({"Data": vars_}, tmpl.replace("{{range .}}", "{{range .Data}}"))
            )
        except f.SpecError as exc:
            _fail(str(exc))
    else:
        click.echo(f.var_list(vars_))
    if token:
        click.echo(f"Next page token: {token}", err=True)


# --- purge -----------------------------------------------------------------------------


@var.command("purge")
@click.argument("path")
@click.option("-check-index", "--check-index", "check_index", default="", help="CAS index.")
@_namespace_option
@address_option
@nomad_command
def purge(path: str, check_index: str, namespace: str | None, address: str | None) -> None:
    """Permanently delete a variable."""
    if namespace == "*":
        _fail(f.WILDCARD)
    params = _ns_params(namespace)
    if check_index:
        if not check_index.isdigit():
            _fail(f'Error parsing check-index value "{check_index}": invalid syntax')
        params["cas"] = check_index
    status, data, _ = _call(client(address), "DELETE", _var_path(path), params)
    if status == 409:
        click.echo(f.cas_conflict(int(check_index), data or {}), err=True)
        sys.exit(1)
    if status not in (200, 204):
        _fail(f"Error purging variable: {_unexpected(status, data)}")
    click.echo(f'Successfully purged variable "{path.strip().strip("/")}"!')


# --- lock ------------------------------------------------------------------------------


@var.command("lock", context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("command", nargs=-1, required=True)
@click.option("-ttl", "--ttl", "ttl", default="", help="The lock's TTL (default 15s).")
@click.option("-delay", "--delay", "delay", default="", help="The lock delay (default 15s).")
@click.option("-max-retry", "--max-retry", "max_retry", type=int, default=5)
@click.option("-shell", "--shell", "shell", type=bool, default=True)
@click.option("-verbose", "--verbose", "verbose", is_flag=True)
@_namespace_option
@address_option
@nomad_command
def lock(
    target: str,
    command: tuple[str, ...],
    ttl: str,
    delay: str,
    max_retry: int,
    shell: bool,
    verbose: bool,
    namespace: str | None,
    address: str | None,
) -> None:
    """Hold a lock over the variable at TARGET (a path or @spec) while COMMAND runs."""
    say = _sayer(verbose)
    spec: Obj = {}
    if _is_ref(target):
        text, fmt = _read_spec(target, "json")
        try:
            spec = f.parse_spec(text, fmt)
        except f.SpecError as exc:
            _fail(f"Failed to parse variable data: {exc}")
    path = str(spec.get("Path") or target).strip("/")
    ns = namespace or spec.get("Namespace") or ""
    lock_body: Obj = {}
    for name, raw in (("TTL", ttl), ("LockDelay", delay)):
        if raw:
            try:
                parse_go_duration(raw)
            except ValueError as exc:
                _fail(f"Invalid {name.lower()}: {exc}")
            lock_body[name] = raw
    api = client(address)
    body = {"Namespace": ns, "Path": path, "Items": spec.get("Items") or {}, "Lock": lock_body}
    held = _acquire(api, path, ns, body, max_retry, say)
    lock_id = held["Lock"]["ID"]
    say(f'Acquired lock on "{path}"')
    stop = threading.Event()
    ttl_ns = parse_go_duration(held["Lock"]["TTL"])
    renewer = threading.Thread(
        target=_renew, args=(api, path, ns, lock_id, ttl_ns / SECOND / 2, stop), daemon=True
    )
    renewer.start()
    try:
        argv = " ".join(command) if shell else list(command)
        code = subprocess.call(argv, shell=shell)
    finally:
        stop.set()
        renewer.join(timeout=5)
        _call(
            api,
            "PUT",
            _var_path(path),
            {"lock-release": "", **_ns_params(ns)},
            {"Lock": {"ID": lock_id}},
        )
        say(f'Released lock on "{path}"')
    sys.exit(code)


def _acquire(
    api: NomadHTTP, path: str, ns: str, body: Obj, retries: int, say: Callable[[str], None]
) -> Obj:
    for attempt in range(retries + 1):
        status, data, _ = _call(
            api, "PUT", _var_path(path), {"lock-acquire": "", **_ns_params(ns)}, body
        )
        if status == 200:
            held: Obj = data
            return held
        if status != 409:
            _fail(f"Error acquiring lock: {_unexpected(status, data)}")
        say(f"Lock is held elsewhere; attempt {attempt + 1} of {retries + 1}")
        time.sleep(1)
    _fail(f'Error acquiring lock: variable "{path}" is locked')


def _renew(
    api: NomadHTTP, path: str, ns: str, lock_id: str, every_s: float, stop: threading.Event
) -> None:
    params = {"lock-renew": "", **_ns_params(ns)}
    while not stop.wait(every_s):
        status, data, _ = _call(api, "PUT", _var_path(path), params, {"Lock": {"ID": lock_id}})
        if status != 200:
            click.echo(f"Error renewing lock: {_unexpected(status, data)}", err=True)
            return
