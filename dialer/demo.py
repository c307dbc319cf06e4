"""`dialer demo`: the example campaign from `campaigns/`, end to end, against the built-in
simulator, on whatever database is configured (by default the embedded SQLite file)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from dialer.campaigns import create_campaign, load_campaign_file
from dialer.config import get_settings
from dialer.contacts import import_contacts
from dialer.db import engine_for, transaction
from dialer.migrate import ensure_schema
from dialer.options import Window
from dialer.reports.summary import campaign_summary
from dialer.reports.table import summary_table
from dialer.runner import RunResult, run_campaign
from dialer.simulator import DEFAULT_ACCESS_TOKEN, CallOutcomes, FakeCallApi, SimulatorServer

# The simulated account is small on purpose, so that pacing by the points limit shows: six
# points per five-second "minute". One sample contact is on the provider's blacklist.
DEMO_ACCOUNT = FakeCallApi(
    minute_limit=6,
    window_seconds=5.0,
    call_duration=5.0,
    blacklist=frozenset({"79260000013"}),
    # Calls end within seconds and show in the reports two seconds later, so that the demo
    # shows who picked up, and redials the busy and the unanswered once.
    outcomes=CallOutcomes(answer_after=1.0, report_delay=2.0),
)
# Outcomes are asked for this often in the demo (seconds); a real account's default is 60.
DEMO_OUTCOMES_INTERVAL = "2"
DEMO_REDIAL = 3.0  # seconds before a busy or unanswered contact is called again


def examples_folder() -> Path:
    """The `campaigns/` folder of the checkout (or of the current directory)."""
    beside_package = Path(__file__).resolve().parent.parent / "campaigns"
    return beside_package if beside_package.is_dir() else Path.cwd() / "campaigns"


@contextmanager
def simulator_as_provider() -> Iterator[SimulatorServer]:
    """Serve the simulator and point this process (and the workers it starts) at it."""
    server = SimulatorServer(DEMO_ACCOUNT).start()
    demo_env = {
        "DIALER_CALLAPI_URL": server.url,
        "DIALER_CALLAPI_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN,
        "DIALER_DATAAPI_URL": server.data_url,
        "DIALER_OUTCOMES": "on",
        "DIALER_OUTCOMES_INTERVAL": DEMO_OUTCOMES_INTERVAL,
    }
    cleared = ("DIALER_CALLAPI_LOGIN", "DIALER_CALLAPI_PASSWORD", "DIALER_DATAAPI_ACCESS_TOKEN")
    saved = {k: os.environ.get(k) for k in (*demo_env, *cleared)}
    os.environ.update(demo_env)
    for key in cleared:
        os.environ.pop(key, None)
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def run_demo(console: Console, concurrency: int = 4) -> RunResult:
    """Create the example campaign under a fresh name, import the sample CSV, and run it."""
    folder = examples_folder()
    with simulator_as_provider() as server:
        settings = get_settings()
        engine = engine_for(settings.database_url)
        ensure_schema(engine)
        spec = load_campaign_file(folder / "order-ready.toml")
        name = f"demo-{dt.datetime.now():%Y%m%d-%H%M%S}"
        # A demo must run whenever it is started, so its calling window is always open.
        retry = dataclasses.replace(
            spec.options.retry, rounds=2, busy=DEMO_REDIAL, no_answer=DEMO_REDIAL
        )
        options = dataclasses.replace(spec.options, window=Window(), retry=retry)
        spec = dataclasses.replace(spec, name=name, options=options)
        with transaction(engine) as session:
            campaign = create_campaign(session, spec)
            imported = import_contacts(
                session,
                campaign,
                folder / "contacts-sample.csv",
                rejects_path=settings.home / f"{name}.rejects.csv",
            )
        console.print(
            f"[bold]{name}[/]: {spec.method} against the simulator at {server.url} "
            f"({DEMO_ACCOUNT.minute_limit} points per {DEMO_ACCOUNT.window_seconds:g} s); "
            "the example's calling window is opened for the demo, and busy and unanswered "
            f"contacts are called once more after {DEMO_REDIAL:g} s"
        )
        console.print(
            f"imported {imported.imported} of {imported.read} rows "
            f"({imported.duplicates} duplicates, {imported.rejected} rejected: "
            f"{imported.rejects_path or 'none'})"
        )
        result = run_campaign(
            name, console, concurrency=concurrency, settings=settings, warn_without_window=False
        )
        with transaction(engine) as session:
            campaign = session.get_one(type(campaign), campaign.id)
            console.print(summary_table(campaign, campaign_summary(session, campaign)))
        console.print(
            f"Next: `dialer report {name} --format html --output report.html`, "
            f"`dialer campaign show {name}`"
        )
        return result
