"""The `yurt` command.

Subcommands are named as the products name theirs (`yurt job run`, `yurt kv get`,
`yurt node status`) and load lazily, so that a quick `yurt job status` does not import the
servers. Each entry below names the module that owns the command; a command whose module
is not in this installation is simply not listed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os

import click

from yurt import __version__

_COMMANDS: dict[str, tuple[str, str]] = {
    # servers
    "up": ("yurt.cli.up", "up"),
    "catalog": ("yurt.cli.catalog", "catalog"),
    "scheduler": ("yurt.cli.scheduler", "scheduler"),
    "client": ("yurt.cli.client", "client"),
    "router": ("yurt.cli.router", "router"),
    # Consul-style commands
    "kv": ("yurt.cli.kv", "kv"),
    "services": ("yurt.cli.services", "services"),
    "snapshot": ("yurt.cli.snapshot", "snapshot"),
    # Nomad-style commands
    "job": ("yurt.cli.job", "job"),
    "alloc": ("yurt.cli.alloc", "alloc"),
    "node": ("yurt.cli.node", "node"),
    "eval": ("yurt.cli.evaluation", "eval_"),
    "deployment": ("yurt.cli.deployment", "deployment"),
    "system": ("yurt.cli.system", "system"),
    "status": ("yurt.cli.status", "status"),
    "acl": ("yurt.cli.acl", "acl"),
    "var": ("yurt.cli.var", "var"),
    "service": ("yurt.cli.service", "service"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(n for n, (mod, _) in _COMMANDS.items() if _module_exists(mod))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = _COMMANDS.get(cmd_name)
        if entry is None or not _module_exists(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        loaded = getattr(module, entry[1])
        assert isinstance(loaded, click.Command)
        return loaded


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.version_option(__version__, "-v", "-version", "--version", prog_name="yurt")
def main() -> None:
    """yurt: Consul, Nomad and Fabio in one pure-Python stack."""
    logging.basicConfig(
        level=os.environ.get("YURT_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
