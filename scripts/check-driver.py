"""Before `make job-run`: is there a ready client node with every driver the job needs?

Without one (typically: no Docker engine for the docker driver), say so, and name the
raw_exec variant of the demo job when there is one, instead of leaving the user with a
placement failure. Exit 0 when the job can be placed, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from yurt.jobspec import JobspecError, parse_job


def _nodes(address: str) -> list[dict[str, object]] | None:
    try:
        with urllib.request.urlopen(f"{address}/v1/nodes", timeout=5) as resp:
            data = json.load(resp)
            return data if isinstance(data, list) else []
    except (urllib.error.URLError, OSError):
        return None


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: check-driver.py JOB_FILE [-address=URL]", file=sys.stderr)
        return 2
    path = Path(sys.argv[1])
    address = os.environ.get("NOMAD_ADDR", "http://127.0.0.1:4646")
    for arg in sys.argv[2:]:
        if arg.startswith("-address="):
            address = arg.split("=", 1)[1]
    if not path.exists():
        print(f"No such job file: {path} (JOB_POSTFIX picks jobs/job.<postfix>.nomad)")
        return 1
    try:
        job = parse_job(path.read_text(), str(path), environ=os.environ)
    except JobspecError as exc:
        print(exc, file=sys.stderr)
        return 1
    drivers = {
        str(task.get("Driver"))
        for group in job.get("TaskGroups") or []
        for task in group.get("Tasks") or []
    }
    nodes = _nodes(address.rstrip("/"))
    if nodes is None:
        print(f"The scheduler at {address} does not answer: is the stack up? (make up)")
        return 1
    ready = [n for n in nodes if n.get("Status") == "ready"]
    for driver in sorted(drivers):
        healthy = [
            n
            for n in ready
            if ((n.get("Drivers") or {}).get(driver) or {}).get("Healthy")  # type: ignore[union-attr]
        ]
        if healthy:
            continue
        print(f'No ready client node has a healthy "{driver}" driver.')
        if driver == "docker":
            print(
                "There is no Docker engine on this machine (or DOCKER_HOST does not point at "
                "one; Podman's Docker-compatible socket works too: `make podman` starts it, "
                "then export the DOCKER_HOST it prints and `make restart`)."
            )
        raw = path.with_name(path.name.replace(".nomad", "-raw.nomad"))
        if raw.exists():
            postfix = raw.name.removeprefix("job.").removesuffix(".nomad")
            print(f"Run the raw_exec variant instead:  make job-run JOB_POSTFIX={postfix}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
