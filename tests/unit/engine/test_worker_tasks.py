"""The Celery task of a wake-up: a database outage met before the request left sends the same
wake-up again after a wait; anything else is not the task's to retry."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from dialer import dialing, retry, worker
from dialer.turn import Turn, TurnResult


class Turns:
    """Stands in for `dialing.place_call`: raises the given errors in turn, then places."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, _dialer: object, _contact_id: int) -> TurnResult:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return TurnResult(Turn.PLACED)


def database_away() -> OperationalError:
    return OperationalError("SELECT contacts", {}, Exception("connection refused"))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The countdowns the task asked for; the task runs eagerly, with no dialer of its own."""
    asked: list[float] = []
    wakeup_again_in = retry.wakeup_again_in

    def wait(retries: int) -> float:
        asked.append(wakeup_again_in(retries))
        return 0.0

    monkeypatch.setattr(retry, "wakeup_again_in", wait)
    monkeypatch.setattr(worker, "current_dialer", lambda: None)
    return asked


def test_a_wakeup_met_by_a_database_outage_comes_again(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    turns = Turns(database_away(), database_away())
    monkeypatch.setattr(dialing, "place_call", turns)

    assert worker.place_call.apply(args=(7,)).get() == "placed"
    assert turns.calls == 3
    assert len(waits) == 2
    assert retry.WAKEUP_WAIT_FIRST / 2 <= waits[0] <= retry.WAKEUP_WAIT_FIRST


def test_a_long_outage_ends_the_task_after_its_retries(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    turns = Turns(*(database_away() for _ in range(retry.WAKEUP_RETRIES + 5)))
    monkeypatch.setattr(dialing, "place_call", turns)

    with pytest.raises(OperationalError):
        worker.place_call.apply(args=(7,)).get()
    assert turns.calls == retry.WAKEUP_RETRIES + 1


def test_a_database_mistake_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    turns = Turns(IntegrityError("INSERT INTO attempts", {}, Exception("duplicate key")))
    monkeypatch.setattr(dialing, "place_call", turns)

    with pytest.raises(IntegrityError):
        worker.place_call.apply(args=(7,)).get()
    assert (turns.calls, waits) == (1, [])


def test_the_waits_double_up_to_their_cap() -> None:
    for retries in range(12):
        ceiling = min(retry.WAKEUP_WAIT_FIRST * 2**retries, retry.WAKEUP_WAIT_MAX)
        assert ceiling / 2 <= retry.wakeup_again_in(retries) <= ceiling
