"""The scheduler's state: jobs and their versions, evaluations, allocations, nodes and
deployments, in a storage backend (SQLite by default) with one modify index.

Every object is kept as the JSON Nomad's API answers with, in the backend's table of its
kind, and mirrored in memory for reads. A write runs in one backend transaction that takes
the next index; memory and the blocking-query waiters are updated only after the commit, so
nothing is ever answered that a `kill -9` could lose. An allocation in memory has the parts
only the API shows packed (`yurt.scheduler.alloc_pack`): whatever hands one out as JSON
passes it through `alloc_pack.wire`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from yurt.api.blocking import WatchHub
from yurt.scheduler import alloc_pack
from yurt.scheduler.model import alloc_client_terminal, alloc_uses_resources, job_status
from yurt.scheduler.usage import NodeUsage
from yurt.storage.interface import Backend, Batch, Reclaimed, RemoteChange
from yurt.storage.topics import TopicIndex

if TYPE_CHECKING:
    from yurt.scheduler.structs import (
        Allocation,
        Deployment,
        Evaluation,
        Job,
        Node,
        NodePool,
        ServiceRegistration,
        Variable,
    )

JOB = "job"
JOB_VERSION = "job_version"
EVAL = "eval"
ALLOC = "alloc"
NODE = "node"
DEPLOYMENT = "deployment"
SUBMISSION = "submission"
CONFIG = "config"
# Nomad's ACL state (yurt.scheduler.acl_state): policies by name, tokens by AccessorID (only
# a hash of each secret is kept), one-time tokens by the hash of their one-time secret.
ACL_POLICY = "acl_policy"
ACL_TOKEN = "acl_token"
ACL_ONETIME = "acl_onetime"
# Nomad's native service registrations (yurt.scheduler.services), by registration ID.
SERVICE = "service"
# Nomad Variables (yurt.scheduler.ops_variables), by "namespace\0path", items sealed.
VARIABLE = "variable"
# Nomad's node pools made by the user (yurt.scheduler.node_pools), by name.
NODE_POOL = "node_pool"
# The root keys of Nomad Variables (yurt.scheduler.keyring), by KeyID: in the store so that
# every server of it seals and opens with the same keys, as Nomad keeps them in Raft.
KEYRING = "keyring"
KINDS = (
    JOB,
    JOB_VERSION,
    EVAL,
    ALLOC,
    NODE,
    DEPLOYMENT,
    SUBMISSION,
    CONFIG,
    ACL_POLICY,
    ACL_TOKEN,
    ACL_ONETIME,
    SERVICE,
    VARIABLE,
    NODE_POOL,
    KEYRING,
)

# the backend's table of each kind's index (what blocking reads of a kind's list wait on)
KIND_INDEX = "_index"

# A stored object: the JSON Nomad answers with, of any kind (one of yurt.scheduler.structs'
# TypedDicts). Read-only once stored: a write puts a new object, it never edits the old one.
Row = Mapping[str, Any]
# (kind, key, the object before, the object after) of one committed put or delete
Change = tuple[str, str, Row | None, Row | None]


@dataclass(frozen=True, slots=True)
class Commit:
    """A committed write, as the commit hooks (the event stream) see it: `cause` holds the
    changes of the write it follows from (a job status settled after it)."""

    index: int
    changes: list[Change]
    cause: list[Change]
    event_type: str


def _packed(obj: Row) -> Row:
    """An allocation as memory keeps it (yurt.scheduler.alloc_pack)."""
    return alloc_pack.pack(cast("Allocation", obj))


def _wire(obj: Row) -> Row:
    return alloc_pack.wire(cast("Allocation", obj))


def job_key(namespace: str, job_id: str) -> str:
    return f"{namespace}\x00{job_id}"


def version_key(namespace: str, job_id: str, version: int) -> str:
    return f"{namespace}\x00{job_id}\x00{version:010d}"


class Txn:
    """The writes of one transaction; `index` is the modify index they all get."""

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self.index = batch.claim_index()
        self.puts: list[tuple[str, str, Row | None]] = []
        # what the event stream calls this write, when its changes alone cannot tell
        self.event_type = ""
        self.cause: list[Change] = []

    def put(self, kind: str, key: str, obj: Row) -> None:
        # what memory keeps packed is stored on disk as it was written
        self._batch.put(kind, key, _wire(obj) if kind == ALLOC else obj)
        self.puts.append((kind, key, obj))

    def delete(self, kind: str, key: str) -> None:
        self._batch.delete(kind, key)
        self.puts.append((kind, key, None))


def open_backend(data_dir: Path | str | Backend) -> Backend:
    """`data_dir`: the directory of `scheduler.db`, or a backend to use as it is."""
    if isinstance(data_dir, (str, Path)):
        from yurt.storage.sqlite import SQLiteBackend

        return SQLiteBackend(Path(data_dir) / "scheduler.db")
    return data_dir


class Store:
    def __init__(self, data_dir: Path | str | Backend, hub: WatchHub | None = None) -> None:
        self.backend = open_backend(data_dir)
        self.hub = hub if hub is not None else WatchHub()
        self.tables: dict[str, dict[str, Row]] = {k: {} for k in KINDS}
        self._kinds = TopicIndex(self.hub, KIND_INDEX)
        self.allocs_by_node: dict[str, set[str]] = {}
        self.allocs_by_job: dict[str, set[str]] = {}
        # Every write that touches a job's allocations settles the job's status, which reads
        # its evaluations: kept per job so that this does not scan every evaluation.
        self.evals_by_job: dict[str, set[str]] = {}
        self.services_by_alloc: dict[str, set[str]] = {}
        # What running allocations take on each node, kept as allocations change so that
        # placement does not recount it for every evaluation.
        self.usage: dict[str, NodeUsage] = {}
        # called after each commit, in the order of the indexes (yurt.scheduler.event_buffer)
        self.commit_hooks: list[Callable[[Commit], None]] = []
        # allocations read back (loaded, or another server's) share parts as placed ones do
        self._sharer = alloc_pack.Sharer()
        self._node_list: list[Node] | None = None
        self._load()

    def _load(self) -> None:
        self._kinds.load(self.backend)
        # a kind never written answers index 1; the dict is the one `advance` moves
        self.table_index = self._kinds.indexes
        for kind in KINDS:
            self.table_index.setdefault(kind, 1)
            table = self.tables[kind]
            for key, obj in self.backend.load(kind):
                if kind == ALLOC:
                    obj = _packed(self._sharer.alloc(obj))
                table[key] = obj
                self._reindex(kind, key, None, obj)
        self._sharer.forget()  # what it holds to share is kept no longer than the load

    @property
    def index(self) -> int:
        return self.backend.index

    @contextmanager
    def write(self) -> Iterator[Txn]:
        """One atomic change. The caller stamps objects with `txn.index`."""
        with self.backend.transaction() as batch:
            txn = Txn(batch)
            yield txn
            self._drop_services_of_stopped_allocs(txn)
            kinds = {kind for kind, _, _ in txn.puts}
            self._kinds.persist(batch, kinds, txn.index)
        topics: set[str] = set()
        changes = [self._into_memory(kind, key, obj, topics) for kind, key, obj in txn.puts]
        self._kinds.advance(kinds, txn.index)
        self._kinds.publish(*topics)
        commit = Commit(txn.index, changes, txn.cause, txn.event_type)
        for hook in self.commit_hooks:
            hook(commit)
        self._settle_job_statuses(txn.puts, commit)

    def _into_memory(self, kind: str, key: str, obj: Row | None, topics: set[str]) -> Change:
        """One committed put (or delete, `obj` None) into the tables and indexes, adding
        the topics it wakes to `topics`."""
        table = self.tables[kind]
        old = table.get(key)
        if kind == NODE:
            self._node_list = None
        if obj is None:
            table.pop(key, None)
        else:
            if kind == ALLOC:
                obj = _packed(obj)
            table[key] = obj
        self._reindex(kind, key, old, obj)
        topics.add(kind)
        topics.add(f"{kind}:{key}")
        if kind == ALLOC:
            for o in (old, obj):
                if o is not None:
                    topics.add(f"node-allocs:{o.get('NodeID', '')}")
        return (kind, key, old, obj)

    def apply_remote(self, changes: list[RemoteChange]) -> None:
        """One commit of another server on the same etcd prefix (`cluster/role.py`, on the
        loop): into memory as `write` puts its own after the commit, the kinds' indexes
        moved to the commit's, its topics woken and the commit hooks (the event stream)
        told. Applying a commit twice changes nothing more (the load may have had it)."""
        topics: set[str] = set()
        applied: list[Change] = []
        kinds: dict[str, int] = {}
        for change in changes:
            if change.table == KIND_INDEX:
                if change.value is not None:
                    kinds[change.key] = int(change.value)
            elif change.table in self.tables:
                obj: Row | None = change.value if isinstance(change.value, dict) else None
                if obj is not None and change.table == ALLOC:
                    obj = self._sharer.alloc(obj)
                applied.append(self._into_memory(change.table, change.key, obj, topics))
        index = max(kinds.values(), default=self.index)
        for kind, at in kinds.items():
            self._kinds.advance((kind,), max(at, self.table_index.get(kind, 1)))
        self._kinds.publish(*topics)
        if applied:
            commit = Commit(index, applied, [], "")
            for hook in self.commit_hooks:
                hook(commit)

    def _settle_job_statuses(
        self, puts: list[tuple[str, str, Row | None]], cause: Commit | None = None
    ) -> None:
        """Store the status of every job whose allocations or evaluations just changed, in a
        write of its own when it moved, as Nomad's state store does: the job's ModifyIndex
        then moves too, so blocking reads of the job see it turn running, complete or dead."""
        touched: set[tuple[str, str]] = set()
        for kind, _key, obj in puts:
            if kind in (ALLOC, EVAL) and obj is not None and obj.get("JobID"):
                touched.add((str(obj.get("Namespace") or "default"), str(obj["JobID"])))
        changed: list[tuple[Job, str]] = []
        for namespace, job_id in touched:
            job = self.job(namespace, job_id)
            if job is None:
                continue
            status = job_status(
                job, self.allocs_for_job(namespace, job_id), self.evals_for_job(namespace, job_id)
            )
            if job.get("Status") != status:
                changed.append((job, status))
        if not changed:
            return
        with self.write() as txn:
            if cause is not None:
                txn.cause = cause.cause or cause.changes
                txn.event_type = cause.event_type
            for job, status in changed:
                txn.put(
                    JOB,
                    job_key(job["Namespace"], job["ID"]),
                    {**job, "Status": status, "ModifyIndex": txn.index},
                )

    def _drop_services_of_stopped_allocs(self, txn: Txn) -> None:
        """As Nomad's state store does: an allocation that stopped on its client (or is
        gone) takes its native service registrations with it, in the same transaction."""
        stopped = [
            key
            for kind, key, obj in txn.puts
            if kind == ALLOC and (obj is None or alloc_client_terminal(obj))
        ]
        for alloc_id in stopped:
            for sid in sorted(self.services_by_alloc.get(alloc_id, ())):
                txn.delete(SERVICE, sid)

    def _reindex(self, kind: str, key: str, old: Row | None, new: Row | None) -> None:
        if kind == SERVICE:
            if old is not None:
                self.services_by_alloc.get(old["AllocID"], set()).discard(key)
            if new is not None:
                self.services_by_alloc.setdefault(new["AllocID"], set()).add(key)
            return
        if kind == EVAL:
            if old is not None:
                self.evals_by_job.get(job_key(old["Namespace"], old["JobID"]), set()).discard(key)
            if new is not None:
                self.evals_by_job.setdefault(job_key(new["Namespace"], new["JobID"]), set()).add(
                    key
                )
            return
        if kind != ALLOC:
            return
        if old is not None and alloc_uses_resources(old):
            self.usage[old.get("NodeID", "")].remove(old)
        if new is not None and alloc_uses_resources(new):
            self.usage.setdefault(new.get("NodeID", ""), NodeUsage()).add(new)
        if old is not None:
            self.allocs_by_node.get(old.get("NodeID", ""), set()).discard(key)
            self.allocs_by_job.get(job_key(old["Namespace"], old["JobID"]), set()).discard(key)
        if new is not None:
            self.allocs_by_node.setdefault(new.get("NodeID", ""), set()).add(key)
            self.allocs_by_job.setdefault(job_key(new["Namespace"], new["JobID"]), set()).add(key)

    # reads -----------------------------------------------------------------------------
    # Each kind's table seen as the struct it holds: rows are put only through the write
    # paths that build them as that struct, so this is where the JSON becomes typed.

    @property
    def jobs_by_key(self) -> dict[str, Job]:
        return cast("dict[str, Job]", self.tables[JOB])

    @property
    def allocs(self) -> dict[str, Allocation]:
        return cast("dict[str, Allocation]", self.tables[ALLOC])

    @property
    def evals(self) -> dict[str, Evaluation]:
        return cast("dict[str, Evaluation]", self.tables[EVAL])

    @property
    def nodes(self) -> dict[str, Node]:
        return cast("dict[str, Node]", self.tables[NODE])

    def node_list(self) -> list[Node]:
        """The nodes as a list that is never changed: a node's change makes a new one, so
        its identity says "no node changed" (what the scheduler's node view keys on)."""
        if self._node_list is None:
            self._node_list = list(self.nodes.values())
        return self._node_list

    @property
    def deployments(self) -> dict[str, Deployment]:
        return cast("dict[str, Deployment]", self.tables[DEPLOYMENT])

    @property
    def node_pools(self) -> dict[str, NodePool]:
        return cast("dict[str, NodePool]", self.tables[NODE_POOL])

    @property
    def services(self) -> dict[str, ServiceRegistration]:
        return cast("dict[str, ServiceRegistration]", self.tables[SERVICE])

    @property
    def variables(self) -> dict[str, Variable]:
        return cast("dict[str, Variable]", self.tables[VARIABLE])

    def job(self, namespace: str, job_id: str) -> Job | None:
        return self.jobs_by_key.get(job_key(namespace, job_id))

    def jobs(self) -> list[Job]:
        return list(self.jobs_by_key.values())

    def job_versions(self, namespace: str, job_id: str) -> list[Job]:
        prefix = job_key(namespace, job_id) + "\x00"
        versions = cast("dict[str, Job]", self.tables[JOB_VERSION])
        found = [v for k, v in versions.items() if k.startswith(prefix)]
        return sorted(found, key=lambda j: -int(j.get("Version", 0)))

    def job_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        versions = cast("dict[str, Job]", self.tables[JOB_VERSION])
        return versions.get(version_key(namespace, job_id, version))

    def allocs_for_job(self, namespace: str, job_id: str) -> list[Allocation]:
        keys = self.allocs_by_job.get(job_key(namespace, job_id), set())
        return [self.allocs[k] for k in keys]

    def allocs_for_node(self, node_id: str) -> list[Allocation]:
        keys = self.allocs_by_node.get(node_id, set())
        return [self.allocs[k] for k in keys]

    def evals_for_job(self, namespace: str, job_id: str) -> list[Evaluation]:
        keys = self.evals_by_job.get(job_key(namespace, job_id), set())
        return [self.evals[k] for k in keys]

    def deployments_for_job(self, namespace: str, job_id: str) -> list[Deployment]:
        return [
            d
            for d in self.deployments.values()
            if d["JobID"] == job_id and d["Namespace"] == namespace
        ]

    def reclaim(self) -> Reclaimed:
        """Give the space of deleted objects back (after garbage collection)."""
        return self.backend.reclaim()

    def close(self) -> None:
        self.backend.close()
