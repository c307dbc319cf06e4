"""`dialer fake-api`: its options reach the simulator, and it binds loopback unless told."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dialer.cli import fake_api
from dialer.cli.app import app
from dialer.simulator import DEFAULT_SHARES, CallOutcomes, DownMode, SimulatorServer


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[SimulatorServer]:
    """The servers the command would have run, captured instead of served."""
    servers: list[SimulatorServer] = []
    monkeypatch.setattr(fake_api, "_serve", servers.append)
    return servers


def run(*args: str) -> tuple[int, str]:
    """Invoke `dialer fake-api` with `args`; exit code and output."""
    result = CliRunner().invoke(app, ["fake-api", *args])
    return result.exit_code, result.output


def test_defaults_bind_loopback_with_the_default_outcomes(served: list[SimulatorServer]) -> None:
    assert run()[0] == 0
    [server] = served
    assert server.address == ("127.0.0.1", 8765)
    assert server.config.outcomes == CallOutcomes(shares=dict(DEFAULT_SHARES))
    assert server.config.account_timezone == "Europe/Moscow"


def test_another_host_is_bound_only_when_asked(served: list[SimulatorServer]) -> None:
    assert run("--host", "0.0.0.0")[0] == 0  # noqa: S104 -- the point of the test
    assert served[0].address[0] == "0.0.0.0"  # noqa: S104


def test_outcome_options_reach_the_simulator(served: list[SimulatorServer]) -> None:
    code, output = run(
        "--outcome",
        "answered=3,busy=1",
        "--outcome",
        "timeout=1",
        "--script",
        "79260000001=busy,answered",
        "--answer-after",
        "2",
        "--report-delay",
        "60",
        "--spelling",
        "mixed",
        "--account-timezone",
        "Asia/Yekaterinburg",
        "--data-minute-limit",
        "7",
        "--data-day-limit",
        "70",
        "--data-api-refusal",
        "ip_not_whitelisted",
    )
    assert code == 0, output
    config = served[0].config
    assert config.outcomes == CallOutcomes(
        shares={"answered": 3.0, "busy": 1.0, "timeout": 1.0},
        scripts={"79260000001": ("busy", "answered")},
        answer_after=2.0,
        report_delay=60.0,
        spelling="mixed",
    )
    assert config.account_timezone == "Asia/Yekaterinburg"
    assert (config.data_minute_limit, config.data_day_limit) == (7, 70)
    assert config.data_api_refusal == "ip_not_whitelisted"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--outcome", "answered"), "OUTCOME=WEIGHT"),
        (("--outcome", "=1"), "OUTCOME=WEIGHT"),
        (("--outcome", "answered=-1"), "negative"),
        (("--script", "79260000001="), "NUMBER=OUTCOME"),
        (("--spelling", "klingon"), "spelling"),
        (("--account-timezone", "Mars/Olympus"), "Mars/Olympus"),
    ],
)
def test_bad_options_are_refused_clearly(
    served: list[SimulatorServer], args: tuple[str, ...], complaint: str
) -> None:
    code, output = run(*args)
    assert code != 0
    assert complaint in output
    assert served == []


def test_fault_span_options_reach_the_simulator(served: list[SimulatorServer]) -> None:
    code, output = run(
        "--limit-burst-rate",
        "0.01",
        "--limit-burst-seconds",
        "4",
        "--down-after",
        "30",
        "--down-for",
        "20",
        "--down-mode",
        "refused",
    )
    assert code == 0, output
    config = served[0].config
    assert (config.limit_burst_rate, config.limit_burst_seconds) == (0.01, 4.0)
    assert (config.down_after, config.down_for, config.down_mode) == (30.0, 20.0, DownMode.REFUSED)


def test_the_provider_is_up_unless_told_to_go_down(served: list[SimulatorServer]) -> None:
    assert run()[0] == 0
    assert served[0].config.down_after is None
    assert run("--down-mode", "sideways")[0] != 0


def test_an_answered_call_must_be_picked_up_before_it_ends(served: list[SimulatorServer]) -> None:
    code, output = run("--call-duration", "2", "--answer-after", "5")

    assert code == 2
    assert "--answer-after" in output
    assert "5 s is not shorter than --call-duration 2 s" in output
    assert not served
    # Without answered calls the pick-up time does not matter.
    assert run("--call-duration", "2", "--answer-after", "5", "--outcome", "busy=1")[0] == 0
