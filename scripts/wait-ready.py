"""Wait until `yurt up` serves all four APIs and its agents are registered as passing.

Used by `make up`; exits 1 with the log's tail when the process dies or time runs out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

AGENTS = ("consul", "nomad-1-server", "nomad-1-client", "fabio")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def _alive(pid_file: str) -> bool:
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _passing_agents(catalog: str) -> set[str]:
    status, body = _get(f"{catalog}/v1/health/state/passing")
    if status != 200:
        return set()
    checks = json.loads(body or b"[]")
    node_ok = any(c.get("CheckID") == "serfHealth" for c in checks)
    names = {c.get("ServiceName") for c in checks if c.get("ServiceName")}
    if node_ok:
        names.add("consul")
    return {n for n in names if n}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--catalog", default="http://127.0.0.1:8500")
    parser.add_argument("--scheduler", default="http://127.0.0.1:4646")
    parser.add_argument("--router-ui", default="http://127.0.0.1:9998")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    missing: set[str] = set(AGENTS)
    while time.monotonic() < deadline:
        if not _alive(args.pid_file):
            print("yurt up exited; the end of its log:", file=sys.stderr)
            with open(args.log, errors="replace") as f:
                print("".join(f.readlines()[-30:]), file=sys.stderr)
            return 1
        ready = (
            _get(f"{args.scheduler}/v1/agent/health")[0] == 200
            and _get(f"{args.router_ui}/health")[0] == 200
        )
        missing = set(AGENTS) - _passing_agents(args.catalog)
        if ready and not missing:
            print("yurt is ready:")
            print(f"  catalog   (Consul)  {args.catalog}/ui/dc1/services")
            print(f"  scheduler (Nomad)   {args.scheduler}/ui/jobs")
            print(f"  router    (Fabio)   {args.router_ui}  and the proxy on :9999")
            print("next: make job-run   (or make job-run JOB_POSTFIX=nginx-raw without Docker)")
            return 0
        time.sleep(0.2)
    print(
        f"yurt was not ready in {args.timeout:.0f}s; not passing yet: {sorted(missing)}; "
        f"see {args.log}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
