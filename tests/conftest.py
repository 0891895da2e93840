from __future__ import annotations

import pytest

from tests.support.process import free_port


@pytest.fixture
def port() -> int:
    return free_port()
