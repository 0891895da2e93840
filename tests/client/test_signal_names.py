"""Signal names as Nomad takes them (`kill_signal`, `change_signal`, `alloc signal -s`), and
the words for one that does not exist."""

from __future__ import annotations

import signal

import pytest

from yurt.client.drivers.base import parse_signal


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("SIGTERM", signal.SIGTERM),
        ("TERM", signal.SIGTERM),
        ("sighup", signal.SIGHUP),
        (" SIGUSR1 ", signal.SIGUSR1),
        ("9", 9),
        ("", signal.SIGINT),
    ],
)
def test_names_and_numbers(name: str, want: int) -> None:
    assert parse_signal(name) == want


@pytest.mark.parametrize(
    ("name", "error"),
    [("SIGFOO", 'invalid signal "SIGFOO"'), ("nope", 'invalid signal "nope"')],
)
def test_an_unknown_signal_is_named_in_the_error(name: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_signal(name)
    assert str(caught.value) == error
