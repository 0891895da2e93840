"""Nomad's job specification: which blocks and attributes each block takes, and the API
JSON fields they fill (api.Job and friends, as `nomad job run -output` prints them).

The vocabulary is in `schema_core`; each family of blocks is a module of its own, and
importing them here fills `SPECS`.
"""

from __future__ import annotations

from yurt.jobspec import (  # noqa: F401  (each module registers its specs)
    schema_connect,
    schema_group,
    schema_job,
    schema_network,
    schema_service,
    schema_task,
)
from yurt.jobspec.schema_core import CONSTRAINT_ATTRS, SPECS, Attr, Blk, Spec

__all__ = ["CONSTRAINT_ATTRS", "SPECS", "Attr", "Blk", "Spec"]
