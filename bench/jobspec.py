"""Job file parsing speed: parses per second for the seed nginx job and a 200-task job.

.venv/bin/python bench/jobspec.py [-seconds 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from yurt.jobspec import canonicalize, parse_job, validate

ROOT = Path(__file__).resolve().parents[1]


def big_job(tasks: int) -> str:
    """A job of `tasks` tasks in groups of ten, each with a service, check and template."""
    parts = ['variable "image" {\n  default = "busybox:1"\n}\n', 'job "big" {\n']
    for g in range(tasks // 10):
        parts.append(f'  group "g{g}" {{\n    network {{\n      port "http" {{}}\n    }}\n')
        for t in range(10):
            parts.append(
                f'    task "t{g}-{t}" {{\n'
                '      driver = "docker"\n'
                "      config {\n"
                "        image = var.image\n"
                '        args  = ["-p", "${NOMAD_PORT_http}"]\n'
                "      }\n"
                "      service {\n"
                f'        name = "svc-{g}-{t}"\n'
                '        port = "http"\n'
                '        check {\n          type = "tcp"\n'
                '          interval = "10s"\n          timeout = "2s"\n        }\n'
                "      }\n"
                "      template {\n"
                '        data        = "port={{ env \\"NOMAD_PORT_http\\" }}"\n'
                '        destination = "local/app.conf"\n'
                "      }\n"
                "      resources {\n        cpu = 100\n        memory = 64\n      }\n"
                "    }\n"
            )
        parts.append("  }\n")
    parts.append("}\n")
    return "".join(parts)


def rate(func: Callable[[], object], seconds: float) -> float:
    func()
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        func()
        n += 1
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-seconds", "--seconds", type=float, default=2.0)
    args = parser.parse_args()
    nginx = (ROOT / "jobs" / "job.nginx.nomad").read_text()
    big = big_job(200)
    big_parsed = parse_job(big, "big.nomad")
    rows = [
        ("nginx: parse", rate(lambda: parse_job(nginx, "job.nginx.nomad"), args.seconds)),
        (
            "nginx: parse+canonicalize+validate",
            rate(lambda: validate(canonicalize(parse_job(nginx, "job.nginx.nomad"))), args.seconds),
        ),
        ("200 tasks: parse", rate(lambda: parse_job(big, "big.nomad"), args.seconds)),
        (
            "200 tasks: canonicalize+validate",
            rate(lambda: validate(canonicalize(big_parsed)), args.seconds),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'per second':>12}  {'ms each':>9}")
    for name, per_second in rows:
        print(f"{name:<{width}}  {per_second:>12.1f}  {1000 / per_second:>9.2f}")


if __name__ == "__main__":
    main()
