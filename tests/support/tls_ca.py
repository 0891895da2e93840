"""A throwaway certificate authority for TLS tests, made with Debian's `openssl`.

Certificates carry the names Nomad's and Consul's own `tls cert create` put in them
(`server.<region>.nomad`, `client.<region>.nomad`, `localhost`, 127.0.0.1) and both
server and client key usages, so one pair can serve and call, as an agent's does.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TestCA:
    __test__ = False  # not a pytest class

    directory: Path
    cert: Path
    key: Path

    def issue(self, name: str, sans: list[str] | None = None) -> Pair:
        names = sans or ["DNS:localhost", "IP:127.0.0.1"]
        key = self.directory / f"{name}-key.pem"
        csr = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.pem"
        ext = self.directory / f"{name}.ext"
        ext.write_text(
            f"subjectAltName={','.join(names)}\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            "basicConstraints=CA:FALSE\n"
        )
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
        )  # fmt: skip
        return Pair(cert, key)


def make_ca(directory: Path, name: str = "yurt-test-ca") -> TestCA:
    directory.mkdir(parents=True, exist_ok=True)
    # "ca-" keeps the authority's files apart from the leaves it issues.
    key = directory / f"ca-{name}-key.pem"
    cert = directory / f"ca-{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return TestCA(directory, cert, key)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)
