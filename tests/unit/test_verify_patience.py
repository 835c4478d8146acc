"""`tenrec verify --patience`: every check's time limit times one factor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenrec.cli import main
from tenrec.exitcodes import Exit
from tenrec.verify.core import CheckFailed
from tenrec.verify.network import ping_until
from tenrec.verify.orchestration import wait_stack
from tenrec.verify.patience import patience, scaled

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def factor():
    """Sets the process's patience for one test, and puts 1 back."""

    def set_factor(value: float) -> None:
        patience.factor = value

    yield set_factor
    patience.factor = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_limit_is_as_written_by_default_and_times_the_factor_when_set(factor):
    assert scaled(120) == 120
    factor(3)
    assert scaled(120) == 360


def test_a_waiting_function_waits_the_scaled_limit(factor):
    """ping_until with 20 s and patience 3 gives up after 60 s, not 20."""
    factor(3)
    clock = Clock()
    pings = []

    def silent(address: str) -> bool:
        pings.append(address)
        clock.now += 2
        return False

    assert ping_until("192.0.2.9", True, 20, probe=silent, clock=clock, sleep=clock.sleep) is None
    assert 60 <= clock.now - 100 <= 63
    assert len(pings) == 21


def test_a_timeout_message_names_the_scaled_limit(factor, monkeypatch):
    factor(2)
    clock = Clock()
    monkeypatch.setattr("tenrec.verify.orchestration.time.monotonic", clock)
    monkeypatch.setattr("tenrec.verify.orchestration.time.sleep", clock.sleep)

    class Stack:
        name = "tenrec-verify-stack"
        status = "CREATE_IN_PROGRESS"

    class Orchestration:
        def get_stack(self, stack_id: str) -> Stack:
            return Stack()

    class Conn:
        orchestration = Orchestration()

    with pytest.raises(CheckFailed, match=r"CREATE_IN_PROGRESS after 60 s, not CREATE_COMPLETE"):
        wait_stack(Conn(), "s1", "CREATE_COMPLETE", 30)
    assert clock.now - 100 >= 60


@pytest.mark.parametrize("value", ["0.5", "21", "0"])
def test_a_factor_out_of_range_exits_2_before_connecting(tmp_path, capsys, value):
    config = tmp_path / "tenrec.yml"
    config.write_text((REPO / "inventory/aio/tenrec.yml").read_text())
    rc = main(["verify", "-c", str(config), "--patience", value])
    assert rc == Exit.INVALID_CONFIG
    assert f"--patience {float(value):g}: give a factor from 1 to 20" in capsys.readouterr().err
    assert patience.factor == 1.0
