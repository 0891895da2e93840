"""exec: raw_exec isolated in new mount, PID, UTS and IPC namespaces with a chroot made of
read-only binds of the host's system directories (Nomad's default chroot_env) plus the
task's own /local, /secrets, /tmp and the shared /alloc. Needs root and util-linux's
`unshare`; without them the driver reports itself undetected, with the reason."""

from __future__ import annotations

import os
import platform
import shutil

from yurt.client.cgroups import TaskCgroup
from yurt.client.drivers.base import Driver, DriverError, DriverHealth, Obj, TaskContext, TaskHandle
from yurt.client.drivers.raw_exec import (
    _args,
    adopt_marked,
    recover_process,
    spawn_with_logmon,
)

_CHROOT_DIRS = ("bin", "etc", "lib", "lib32", "lib64", "sbin", "usr", "run/resolvconf")

# Run inside the new namespaces: bind the host's system dirs into the task dir, mount
# /proc and /alloc, then run the command chrooted. This shell stays PID 1 of the namespace
# and runs the task in the foreground: PID 1 ignores signals it has no handler for, so the
# task itself must not be PID 1, or kill_signal (SIGINT) would never reach it.
_SETUP = r"""
set -e
root=$1; alloc=$2; shift 2
for d in {}; do
  if [ -d "/$d" ]; then
    mkdir -p "$root/$d"
    mount -o bind,ro "/$d" "$root/$d"
  fi
done
mkdir -p "$root/proc" "$root/alloc" "$root/dev"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind "$alloc" "$root/alloc"
cd "$root"
chroot "$root" "$@"
""".format(" ".join(_CHROOT_DIRS))


class ExecDriver(Driver):
    name = "exec"

    def fingerprint(self) -> DriverHealth:
        if platform.system() != "Linux":
            return DriverHealth(False, False, "exec needs Linux namespaces")
        if os.geteuid() != 0:
            return DriverHealth(False, False, "exec needs root (namespaces and chroot)")
        if shutil.which("unshare") is None or shutil.which("chroot") is None:
            return DriverHealth(False, False, "exec needs util-linux unshare and chroot")
        return DriverHealth(True, True, "Healthy", {"driver.exec": "1"})

    async def start(self, ctx: TaskContext) -> TaskHandle:
        command = str(ctx.config.get("command") or "")
        if not command:
            raise DriverError('missing required config "command"', recoverable=False)
        unshare = shutil.which("unshare")
        if unshare is None:
            raise DriverError("exec needs util-linux unshare", recoverable=False)
        adopted = adopt_marked(ctx)
        if adopted is not None:
            adopted.env, adopted.cwd, adopted.enter_namespaces = ctx.env, ctx.task_dir, True
            adopted.cgroup = TaskCgroup.locate(_cgroup_name(ctx))
            return adopted
        argv = [
            unshare,
            "--mount",
            "--pid",
            "--fork",
            "--uts",
            "--ipc",
            "--kill-child",
            "--",
            "/bin/sh",
            "-c",
            _SETUP,
            "exec-setup",
            str(ctx.task_dir),
            str(ctx.alloc_dir / "alloc"),
            command,
            *_args(ctx.config),
        ]
        cgroup = TaskCgroup.create(
            _cgroup_name(ctx),
            memory_mb=ctx.memory_mb,
            memory_max_mb=ctx.memory_max_mb,
            cpu_mhz=ctx.cpu_mhz,
        )
        if cgroup is not None:
            argv = cgroup.wrap(argv)
        try:
            handle = await spawn_with_logmon(ctx, argv, cwd=ctx.task_dir)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        handle.env, handle.cwd, handle.enter_namespaces = ctx.env, ctx.task_dir, True
        handle.cgroup = cgroup
        return handle

    async def recover(self, ctx: TaskContext, state: Obj) -> TaskHandle | None:
        handle = recover_process(ctx, state)
        if handle is None:
            return None
        handle.enter_namespaces = True
        handle.cgroup = TaskCgroup.locate(_cgroup_name(ctx))
        return handle


def _cgroup_name(ctx: TaskContext) -> str:
    return f"{ctx.alloc_id}.{ctx.task_name}"
