"""The prestart hooks every task gets: its workload identity, artifacts, then templates."""

from __future__ import annotations

from yurt.client.alloc_runner import ClientEnv, PrestartHook


def default_hooks(env: ClientEnv) -> list[PrestartHook]:
    from yurt.client.artifacts import ArtifactHook
    from yurt.client.identity import IdentityHook
    from yurt.client.templates import TemplateHook

    return [IdentityHook(env), ArtifactHook(), TemplateHook(env)]
