"""`dialer fake-api`: run the Call API simulator on a local port."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from dialer.cli.app import app
from dialer.config import ConfigError, parse_costs
from dialer.simulator import DEFAULT_ACCESS_TOKEN, DEFAULT_LOGIN, DEFAULT_PASSWORD
from dialer.simulator.config import (
    DOCS_EMPLOYEE_IDS,
    DOCS_MEDIA_FILES,
    DOCS_SCENARIO_IDS,
    DOCS_VIRTUAL_NUMBERS,
    FakeCallApi,
)
from dialer.simulator.server import SimulatorServer


def _split(values: list[str]) -> list[str]:
    """Accept both `--x a --x b` and `--x a,b`."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _ids(values: list[str], option: str) -> frozenset[int]:
    try:
        return frozenset(int(item) for item in _split(values))
    except ValueError:
        raise typer.BadParameter(f"{option} takes whole numbers", param_hint=option) from None


@app.command("fake-api")
def fake_api(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    access_token: Annotated[
        list[str],
        typer.Option(help=f"Permanent access key(s) accepted [default: {DEFAULT_ACCESS_TOKEN}]."),
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
        list[str], typer.Option(help="METHOD=POINTS, repeatable (default 1 point per method).")
    ] = [],  # noqa: B006
    blacklist: Annotated[
        list[str], typer.Option(help="Blacklisted contact numbers, comma-separated or repeated.")
    ] = [],  # noqa: B006
    virtual_number: Annotated[
        list[str], typer.Option(help="Extra virtual numbers of the account.")
    ] = [],  # noqa: B006
    scenario_id: Annotated[list[str], typer.Option(help="Extra scenario ids.")] = [],  # noqa: B006
    media_file: Annotated[list[str], typer.Option(help="Extra media file ids.")] = [],  # noqa: B006
    employee_id: Annotated[list[str], typer.Option(help="Extra employee ids.")] = [],  # noqa: B006
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
    seed: Annotated[int | None, typer.Option(help="Seed for faults and call ids.")] = None,
    log: Annotated[
        Path | None, typer.Option(help="Append a JSONL line per request (secrets redacted).")
    ] = None,
) -> None:
    """Run a local Call API v4.0 simulator.

    Accepts the key `test-token` unless --access-token says otherwise, and login.user with
    `your_login` / `your_password` (the docs' example) unless --login/--password say otherwise.
    It knows the virtual numbers, scenarios, employees and media files of the docs' examples.
    """
    try:
        costs = parse_costs(",".join(cost))
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint="--cost") from None
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
    try:
        server.wait()
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.stop()
