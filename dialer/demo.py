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
from dialer.simulator import DEFAULT_ACCESS_TOKEN, FakeCallApi, SimulatorServer

# The simulated account is small on purpose, so that pacing by the points limit shows: six
# points per five-second "minute". One sample contact is on the provider's blacklist.
DEMO_ACCOUNT = FakeCallApi(
    minute_limit=6,
    window_seconds=5.0,
    call_duration=5.0,
    blacklist=frozenset({"79260000013"}),
)


def examples_folder() -> Path:
    """The `campaigns/` folder of the checkout (or of the current directory)."""
    beside_package = Path(__file__).resolve().parent.parent / "campaigns"
    return beside_package if beside_package.is_dir() else Path.cwd() / "campaigns"


@contextmanager
def simulator_as_provider() -> Iterator[SimulatorServer]:
    """Serve the simulator and point this process (and the workers it starts) at it."""
    server = SimulatorServer(DEMO_ACCOUNT).start()
    saved = {k: os.environ.get(k) for k in ("DIALER_CALLAPI_URL", "DIALER_CALLAPI_ACCESS_TOKEN")}
    os.environ["DIALER_CALLAPI_URL"] = server.url
    os.environ["DIALER_CALLAPI_ACCESS_TOKEN"] = DEFAULT_ACCESS_TOKEN
    os.environ.pop("DIALER_CALLAPI_LOGIN", None)
    os.environ.pop("DIALER_CALLAPI_PASSWORD", None)
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
        spec = dataclasses.replace(
            spec, name=name, options=dataclasses.replace(spec.options, window=Window())
        )
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
            "the example's calling window is opened for the demo"
        )
        console.print(
            f"imported {imported.imported} of {imported.read} rows "
            f"({imported.duplicates} duplicates, {imported.rejected} rejected: "
            f"{imported.rejects_path or 'none'})"
        )
        result = run_campaign(name, console, concurrency=concurrency, settings=settings)
        with transaction(engine) as session:
            campaign = session.get_one(type(campaign), campaign.id)
            console.print(summary_table(campaign, campaign_summary(session, campaign)))
        console.print(
            f"Next: `dialer report {name} --format html --output report.html`, "
            f"`dialer campaign show {name}`"
        )
        return result
