"""Working campaigns: `campaign start|pause|resume|cancel|requeue`, `run`, `worker`, `demo`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from dialer import doctor, lifecycle
from dialer.campaigns import CampaignError, stored_window_warning
from dialer.cli.app import LangOption, app, campaign_app
from dialer.cli.database import fail, open_database
from dialer.config import ConfigError, get_settings
from dialer.db import transaction
from dialer.demo import run_demo
from dialer.doctor import NO_CREDENTIALS
from dialer.models import Campaign, ContactStatus
from dialer.reports.messages import Lang, Texts
from dialer.runner import (
    RunError,
    RunInterrupted,
    WorkerKeeper,
    run_campaign,
    run_keeper,
    start_dispatcher_thread,
)
from dialer.worker import broker_connection

Name = Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")]
Concurrency = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, metavar="N", help="Parallel requests.")
]


def _transition(action: Callable[[Session, str], Campaign], name: str, lang: Lang) -> None:
    """Apply a lifecycle change in one transaction and print the new state."""
    with transaction(open_database()) as session:
        try:
            campaign = action(session, name)
        except CampaignError as exc:
            fail(str(exc))
        _print_state(campaign, Texts(lang))


def _print_state(campaign: Campaign, texts: Texts) -> None:
    print(texts("cli.state", name=campaign.name, state=texts.state(campaign.state)))


def require_credentials() -> None:
    """Stop before a campaign starts when no Call API credentials are configured."""
    if not get_settings().has_credentials:
        fail(NO_CREDENTIALS)


@campaign_app.command("start")
def start(name: Name, lang: LangOption = Lang.EN) -> None:
    """Start a campaign: running workers begin to dial it."""
    require_credentials()
    texts = Texts(lang)
    with transaction(open_database()) as session:
        try:
            campaign = lifecycle.start(session, name)
        except CampaignError as exc:
            fail(str(exc))
        _print_state(campaign, texts)
        warning = stored_window_warning(campaign, texts)
    if warning:
        typer.echo(warning, err=True)


@campaign_app.command("pause")
def pause(name: Name, lang: LangOption = Lang.EN) -> None:
    """Stop new requests at once (requests in flight finish)."""
    _transition(lifecycle.pause, name, lang)


@campaign_app.command("resume")
def resume(name: Name, lang: LangOption = Lang.EN) -> None:
    """Continue a paused campaign where it stopped."""
    require_credentials()
    _transition(lifecycle.resume, name, lang)


@campaign_app.command("cancel")
def cancel(name: Name, lang: LangOption = Lang.EN) -> None:
    """End a campaign: contacts never dialed become `cancelled`."""
    _transition(lifecycle.cancel, name, lang)


_STATUSES = ", ".join(ContactStatus)
_REQUEUEABLE = ", ".join(sorted(lifecycle.REQUEUEABLE))


@campaign_app.command("requeue")
def requeue(
    name: Name,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help=f"Statuses to send back: {_REQUEUEABLE} (default: unknown). Repeatable.",
        ),
    ] = None,
    lang: LangOption = Lang.EN,
) -> None:
    """Send contacts back to `pending`, e.g. `unknown` ones you checked were not called."""
    wanted = status or ["unknown"]
    unknown = [s for s in wanted if s not in {member.value for member in ContactStatus}]
    if unknown:
        fail(f"{unknown[0]!r} is not a contact status (one of: {_STATUSES})")
    statuses = [ContactStatus(s) for s in wanted]
    with transaction(open_database()) as session:
        try:
            moved = lifecycle.requeue(session, name, statuses)
        except CampaignError as exc:
            fail(str(exc))
    print(Texts(lang)("cli.requeued", n=moved))


@app.command("run")
def run(
    name: Name,
    concurrency: Concurrency = 4,
    pool: Annotated[
        str, typer.Option(metavar="POOL", help="Celery pool: threads or prefork.")
    ] = "threads",
    lang: LangOption = Lang.EN,
) -> None:
    """Start a campaign and work it to the end in the foreground, with a progress line."""
    require_credentials()
    # Off a terminal (a log, a pipe) each progress line stays one line, however long.
    console = Console(stderr=True, soft_wrap=True)
    texts = Texts(lang)
    try:
        result = run_campaign(name, console, concurrency=concurrency, pool=pool, texts=texts)
    except CampaignError as exc:
        fail(str(exc))
    except RunError as exc:
        fail(str(exc), code=1)
    except RunInterrupted:
        fail(interrupted_message(name, texts), code=INTERRUPTED)
    status = result.status
    console.print(status.line(texts))
    if result.exit_code:
        why = status.pause_reason or texts.state(status.state)
        fail(texts("cli.run_stopped", name=name, why=why), code=result.exit_code)


# The shell's code for a command ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def interrupted_message(name: str, texts: Texts | None = None) -> str:
    """What a user reads after stopping `dialer run` with Ctrl-C."""
    return (texts or Texts())("cli.interrupted", name=name)


@app.command("demo")
def demo(concurrency: Concurrency = 4) -> None:
    """Run the example campaign end to end against the built-in simulator."""
    console = Console()
    try:
        result = run_demo(console, concurrency=concurrency)
    except RunInterrupted:
        fail("the demo was interrupted; `dialer demo` starts a fresh one", code=INTERRUPTED)
    if result.exit_code:
        fail(f"the demo campaign stopped: {result.status.pause_reason}", code=result.exit_code)


@app.command("worker")
def worker(
    concurrency: Concurrency = 4,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork or threads.")] = "prefork",
    dispatch: Annotated[
        bool, typer.Option("--dispatch/--no-dispatch", help="Also run the dispatcher loop.")
    ] = True,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """A long-lived worker, started again if it dies (plain `celery -A dialer.worker worker`
    works too, without that)."""
    open_database()  # brings the schema up to date before any task runs
    settings = get_settings()
    try:
        # Once here, so that a worker that cannot start says why and exits instead of being
        # started again and again; the worker started next skips it, as a restarted one does.
        doctor.preflight(settings, broker_connection)
    except (doctor.CheckFailed, ConfigError) as exc:
        print(f"dialer worker: cannot start: {exc}", file=sys.stderr, flush=True)
        raise typer.Exit(1) from None
    stop_dispatcher = None
    if dispatch:
        _, stop_dispatcher = start_dispatcher_thread(settings)
    code = run_keeper(
        # Unique per process, so that several workers on one host keep apart.
        lambda: WorkerKeeper(
            concurrency,
            pool,
            name=f"dialer-{os.getpid()}",
            say=lambda message: print(f"dialer worker: {message}", file=sys.stderr, flush=True),
            loglevel=loglevel,
            checked=True,  # the preflight above: the worker need not run it again
        ),
        on_stop=stop_dispatcher.set if stop_dispatcher else lambda: None,
    )
    raise typer.Exit(code)
