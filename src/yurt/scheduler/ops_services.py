"""Native service registration operations: a client's registrations of its allocations'
`provider = "nomad"` services (upserted and removed as its tasks come and go) and the
operator's delete of one registration (`nomad service delete`).

The store removes an allocation's registrations itself when the allocation stops
(`Store._drop_services_of_stopped_allocs`), as Nomad's state store does."""

from __future__ import annotations

from yurt.scheduler import model as m
from yurt.scheduler import services as svc
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, NotFound
from yurt.scheduler.ops_base import Obj, OpsBase
from yurt.scheduler.structs import ServiceRegistration


class ServiceOps(OpsBase):
    def sync_services(self, node_id: str, upserts: list[Obj], removals: list[str]) -> int:
        """A node's changes to its registrations, in one write; returns the index after it.

        A registration of an allocation that is not on this node is refused; one of an
        allocation that has already stopped is dropped (it would outlive its allocation)."""
        table = self.store.services
        allocs = self.store.allocs
        wanted: list[ServiceRegistration] = []
        for raw in upserts:
            try:
                reg = svc.validate(raw, node_id)
            except svc.RegistrationError as exc:
                raise InvalidRequest(str(exc)) from None
            alloc = allocs.get(reg["AllocID"])
            if alloc is None or alloc.get("NodeID") != node_id:
                raise InvalidRequest(f"allocation {reg['AllocID']} is not on node {node_id}")
            if m.alloc_client_terminal(alloc):
                continue
            old = table.get(reg["ID"])
            if old is not None and svc.same_registration(old, reg):
                continue
            wanted.append(reg)
        gone = [sid for sid in removals if sid in table and table[sid].get("NodeID") == node_id]
        if not wanted and not gone:
            return self.store.index
        with self.store.write() as txn:
            for reg in wanted:
                old = table.get(reg["ID"])
                reg["CreateIndex"] = old["CreateIndex"] if old is not None else txn.index
                reg["ModifyIndex"] = txn.index
                txn.put(s.SERVICE, reg["ID"], reg)
            for sid in gone:
                txn.delete(s.SERVICE, sid)
        return txn.index

    def delete_service(self, namespace: str, service_id: str) -> int:
        """Nomad deletes by namespace and ID (the path's service name is not checked)."""
        reg = self.store.tables[s.SERVICE].get(service_id)
        if reg is None or reg.get("Namespace") != namespace:
            raise NotFound("service registration not found")
        with self.store.write() as txn:
            txn.delete(s.SERVICE, service_id)
        return txn.index
