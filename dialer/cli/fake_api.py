"""`dialer fake-api`: run the Call API and Data API simulator on a local port."""

from __future__ import annotations

import signal
import threading
import zoneinfo
from pathlib import Path
from typing import Annotated

import typer

from dialer.cli.app import app
from dialer.config import ConfigError, parse_costs
from dialer.simulator import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    DEFAULT_SHARES,
    KINDS,
    CallOutcomes,
    DownMode,
)
from dialer.simulator.config import (
    DOCS_EMPLOYEE_IDS,
    DOCS_MEDIA_FILES,
    DOCS_SCENARIO_IDS,
    DOCS_VIRTUAL_NUMBERS,
    FakeCallApi,
)
from dialer.simulator.outcomes import ANSWERED, SPELLINGS
from dialer.simulator.server import LOOPBACK, SimulatorServer


def _split(values: list[str]) -> list[str]:
    """Accept both `--x a --x b` and `--x a,b`."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _ids(values: list[str], option: str) -> frozenset[int]:
    try:
        return frozenset(int(item) for item in _split(values))
    except ValueError:
        raise typer.BadParameter(f"{option} takes whole numbers", param_hint=option) from None


def _shares(values: list[str]) -> dict[str, float]:
    """`answered=0.6,busy=0.1` as outcome weights; the defaults when none is given."""
    shares: dict[str, float] = {}
    for item in _split(values):
        name, _, weight = (part.strip() for part in item.partition("="))
        try:
            if not name:
                raise ValueError(item)
            shares[name] = float(weight)
        except ValueError:
            message = f"an outcome share looks like OUTCOME=WEIGHT, got {item!r}"
            raise typer.BadParameter(message, param_hint="--outcome") from None
    return shares or dict(DEFAULT_SHARES)


def _scripts(values: list[str]) -> dict[str, tuple[str, ...]]:
    """`79260000001=busy,answered` (one option per number) as scripted outcomes."""
    scripts: dict[str, tuple[str, ...]] = {}
    for value in values:
        number, sep, outcomes = value.partition("=")
        script = tuple(o.strip() for o in outcomes.split(",") if o.strip())
        if not sep or not number.strip() or not script:
            raise typer.BadParameter(
                f"a script looks like NUMBER=OUTCOME,OUTCOME,..., got {value!r}",
                param_hint="--script",
            )
        scripts[number.strip()] = script
    return scripts


@app.command("fake-api")
def fake_api(
    host: Annotated[
        str, typer.Option(help="Address to bind; loopback unless told otherwise.")
    ] = LOOPBACK,
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    access_token: Annotated[
        list[str],
        typer.Option(
            metavar="KEY",
            help=f"Permanent access key(s) accepted [default: {DEFAULT_ACCESS_TOKEN}].",
        ),
    ] = [],  # noqa: B006 -- Typer reads list defaults; never mutated
    login: Annotated[str, typer.Option(help="login.user login.")] = DEFAULT_LOGIN,
    password: Annotated[str, typer.Option(help="login.user password.")] = DEFAULT_PASSWORD,
    token_lifetime: Annotated[
        float, typer.Option(help="Seconds a login.user session token lives.")
    ] = 3600.0,
    minute_limit: Annotated[int, typer.Option(help="Points per minute window.", min=0)] = 60,
    day_limit: Annotated[int, typer.Option(help="Points per day window.", min=0)] = 10_000,
    window_seconds: Annotated[
        float, typer.Option(help="Length of the 'minute' window in seconds.", min=0.001)
    ] = 60.0,
    day_window_seconds: Annotated[
        float, typer.Option(help="Length of the 'day' window in seconds.", min=0.001)
    ] = 86_400.0,
    cost: Annotated[
        list[str],
        typer.Option(metavar="METHOD=POINTS", help="Repeatable (default 1 point per method)."),
    ] = [],  # noqa: B006
    blacklist: Annotated[
        list[str],
        typer.Option(
            metavar="NUMBERS", help="Blacklisted contact numbers, comma-separated or repeated."
        ),
    ] = [],  # noqa: B006
    virtual_number: Annotated[
        list[str], typer.Option(metavar="NUMBER", help="Extra virtual numbers of the account.")
    ] = [],  # noqa: B006
    scenario_id: Annotated[list[str], typer.Option(metavar="ID", help="Extra scenario ids.")] = [],  # noqa: B006
    media_file: Annotated[list[str], typer.Option(metavar="ID", help="Extra media file ids.")] = [],  # noqa: B006
    employee_id: Annotated[list[str], typer.Option(metavar="ID", help="Extra employee ids.")] = [],  # noqa: B006
    tts_max_length: Annotated[int, typer.Option(help="Longest TTS text accepted.", min=1)] = 1000,
    call_duration: Annotated[
        float, typer.Option(help="Seconds a placed call stays active in list.calls.", min=0.0)
    ] = 30.0,
    fail_rate_5xx: Annotated[
        float, typer.Option(help="Share of requests answered HTTP 503.")
    ] = 0.0,
    fail_rate_internal: Annotated[
        float, typer.Option(help="Share answered -32603 internal_error.", min=0.0, max=1.0)
    ] = 0.0,
    slow_rate: Annotated[float, typer.Option(help="Share answered late.", min=0.0, max=1.0)] = 0.0,
    slow_seconds: Annotated[
        float, typer.Option(help="How late a slow answer comes.", min=0.0)
    ] = 0.0,
    cut_after_create_rate: Annotated[
        float,
        typer.Option(
            help="Share of start.* calls created, counted, then cut without a reply.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    limit_burst_rate: Annotated[
        float,
        typer.Option(
            help="Chance that a Call API request starts a burst of limit_exceeded.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    limit_burst_seconds: Annotated[
        float,
        typer.Option(help="How long a limit_exceeded burst refuses every request.", min=0.0),
    ] = 0.0,
    down_after: Annotated[
        float | None,
        typer.Option(help="Seconds after start at which the provider goes down.", min=0.0),
    ] = None,
    down_for: Annotated[
        float, typer.Option(help="Seconds the provider stays down.", min=0.0)
    ] = 60.0,
    down_mode: Annotated[
        DownMode,
        typer.Option(help="While down: http_503 pages, or refused connections."),
    ] = DownMode.HTTP_503,
    outcome: Annotated[
        list[str],
        typer.Option(
            metavar="OUTCOME=WEIGHT",
            help="Repeatable or comma-separated: how calls end. Outcomes: "
            + ", ".join(KINDS)
            + "; any other name is sent as a raw finish_reason. "
            + "[default: "
            + ",".join(f"{k}={v:g}" for k, v in DEFAULT_SHARES.items())
            + "]",
        ),
    ] = [],  # noqa: B006
    script: Annotated[
        list[str],
        typer.Option(
            metavar="NUMBER=OUTCOME,...",
            help="That number's calls end with these outcomes, in order.",
        ),
    ] = [],  # noqa: B006
    answer_after: Annotated[
        float, typer.Option(help="Seconds from a call's start to an answering pick-up.", min=0.0)
    ] = 5.0,
    report_delay: Annotated[
        float,
        typer.Option(help="Seconds from a call's end to its rows in the Data API.", min=0.0),
    ] = 10.0,
    spelling: Annotated[
        str,
        typer.Option(help="finish_reason spelling: " + " | ".join(SPELLINGS) + "."),
    ] = "subscriber",
    account_timezone: Annotated[
        str, typer.Option(help="The account's zone, for the Data API's report times.")
    ] = "Europe/Moscow",
    data_minute_limit: Annotated[
        int, typer.Option(help="Data API points per minute window.", min=0)
    ] = 60,
    data_day_limit: Annotated[int, typer.Option(help="Data API points per day window.", min=0)] = (
        10_000
    ),
    data_api_refusal: Annotated[
        str | None,
        typer.Option(help="Refuse every Data API request with this mnemonic (ip_not_whitelisted)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for faults, outcomes and ids.")] = None,
    log: Annotated[
        Path | None, typer.Option(help="Append a JSONL line per request (secrets redacted).")
    ] = None,
) -> None:
    """Run a local Call API v4.0 (/v4.0) and Data API v2.0 (/v2.0) simulator.

    Accepts the key `test-token` unless --access-token says otherwise, and login.user with
    `your_login` / `your_password` (the docs' example) unless --login/--password say otherwise.
    It knows the virtual numbers, scenarios, employees and media files of the docs' examples.
    Every call ends after --call-duration seconds with an outcome drawn from --outcome, and shows
    in get.calls_report / get.call_legs_report --report-delay seconds later.
    """
    try:
        costs = parse_costs(",".join(cost))
        outcomes = CallOutcomes(
            shares=_shares(outcome),
            scripts=_scripts(script),
            answer_after=answer_after,
            report_delay=report_delay,
            spelling=spelling,  # type: ignore[arg-type]  # checked by CallOutcomes
        )
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint="--cost") from None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--outcome / --spelling") from None
    if outcomes.shares.get(ANSWERED, 0) > 0 and answer_after >= call_duration:
        # Otherwise a call drawn "answered" ends before anyone picks it up: a report that
        # contradicts itself.
        message = f"{answer_after:g} s is not shorter than --call-duration {call_duration:g} s"
        raise typer.BadParameter(message, param_hint="--answer-after")
    try:
        zoneinfo.ZoneInfo(account_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {account_timezone!r}"
        raise typer.BadParameter(message, param_hint="--account-timezone") from None
    config = FakeCallApi(
        access_tokens=frozenset(_split(access_token) or [DEFAULT_ACCESS_TOKEN]),
        login=login,
        password=password,
        token_lifetime=token_lifetime,
        minute_limit=minute_limit,
        day_limit=day_limit,
        window_seconds=window_seconds,
        day_window_seconds=day_window_seconds,
        costs=costs,
        blacklist=frozenset(_split(blacklist)),
        virtual_numbers=DOCS_VIRTUAL_NUMBERS | frozenset(_split(virtual_number)),
        scenario_ids=DOCS_SCENARIO_IDS | _ids(scenario_id, "--scenario-id"),
        employee_ids=DOCS_EMPLOYEE_IDS | _ids(employee_id, "--employee-id"),
        media_files=DOCS_MEDIA_FILES | _ids(media_file, "--media-file"),
        tts_max_length=tts_max_length,
        call_duration=call_duration,
        fail_rate_5xx=fail_rate_5xx,
        fail_rate_internal=fail_rate_internal,
        slow_rate=slow_rate,
        slow_seconds=slow_seconds,
        cut_after_create_rate=cut_after_create_rate,
        limit_burst_rate=limit_burst_rate,
        limit_burst_seconds=limit_burst_seconds,
        down_after=down_after,
        down_for=down_for,
        down_mode=down_mode,
        outcomes=outcomes,
        account_timezone=account_timezone,
        data_minute_limit=data_minute_limit,
        data_day_limit=data_day_limit,
        data_api_refusal=data_api_refusal,
        seed=seed,
        log_path=log,
    )
    _serve(SimulatorServer(config, host=host, port=port))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(server: SimulatorServer) -> None:
    if threading.current_thread() is threading.main_thread():
        # A service manager stops us with SIGTERM: shut down as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
    except OSError as error:
        typer.echo(f"cannot listen on {server.address[0]}:{server.address[1]}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Call API simulator listening on {server.url} (Ctrl-C to stop)")
    typer.echo(f"Data API simulator listening on {server.data_url}")
    try:
        server.wait()
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.stop()
