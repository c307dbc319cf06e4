"""`dialer doctor`: the checks of `dialer.doctor` as a table, and the settings in effect."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dialer import doctor as checks
from dialer.cli.app import app
from dialer.config import ConfigError, load_settings
from dialer.worker import broker_connection


@app.command("doctor")
def doctor() -> None:
    """Check the database, the broker and the Call API a worker would use (places no call)."""
    console = Console()
    table = Table(title="dialer doctor")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details and fix", overflow="fold")
    failed = 0
    for check in checks.run_checks(broker_connection):
        failed += not check.ok
        result = "[green]ok[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(check.name, result, escape(check.detail))
    console.print(table)
    _print_settings(console)
    if failed:
        typer.echo(f"dialer: {failed} check(s) failed", err=True)
        raise typer.Exit(1)


def _print_settings(console: Console) -> None:
    try:
        settings = load_settings()
    except ConfigError:
        return  # the settings line of the table already says what is wrong
    table = Table(title="settings in effect (secrets masked)")
    table.add_column("variable")
    table.add_column("value", overflow="fold")
    for name, value in checks.settings_in_effect(settings):
        table.add_row(name, escape(value))
    console.print(table)
