"""Where a server run alone keeps its state. `-config FILE` on `yurt catalog` and `yurt
scheduler`: the agent config's `store { }` block (docs/storage.md); the file is checked
whole, as `yurt up` checks it, but only that block is used by a server run alone. `-data-dir`
and `-dev` on `yurt scheduler` and `yurt client`: the directory, or a throw-away one."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from yurt.agent_config import AgentConfig
    from yurt.storage.config import StoreConfig

F = TypeVar("F", bound=Callable[..., Any])


def config_option(command: F) -> F:
    return click.option(
        "-config",
        "--config",
        "config_paths",
        multiple=True,
        type=click.Path(path_type=Path, exists=True),
        help="Agent config file or directory whose store { } block says where the state "
        "lives (SQLite in the data dir by default, or etcd); repeatable.",
    )(command)


def agent_config_from(paths: Sequence[Path]) -> AgentConfig | None:
    """The agent config in `paths` (None when there are none); its problem as the command's
    error."""
    if not paths:
        return None
    from yurt.agent_config import ConfigError, load_agent_config

    try:
        return load_agent_config(list(paths))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot read config: {exc}") from None


def store_from(paths: tuple[Path, ...]) -> StoreConfig:
    from yurt.storage.config import StoreConfig

    agent = agent_config_from(paths)
    return agent.store if agent is not None else StoreConfig()


@contextlib.contextmanager
def data_dir_for(data_dir: str | None, *, dev: bool, prefix: str, default: str) -> Iterator[str]:
    """`-data-dir` when given; else with `-dev` a throw-away directory, removed when the
    server is done; else `default`."""
    if data_dir is not None or not dev:
        yield default if data_dir is None else data_dir
        return
    temp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)
