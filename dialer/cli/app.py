"""The Typer application and its command groups; command modules register onto these."""

from __future__ import annotations

from typing import Annotated

import typer

from dialer.reports.messages import Lang

app = typer.Typer(
    name="dialer",
    help="Campaign dialer for the UIS / CoMagic Call API v4.0.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
campaign_app = typer.Typer(help="Create, inspect and control campaigns.", no_args_is_help=True)
contacts_app = typer.Typer(help="Import contacts into a campaign.", no_args_is_help=True)
blacklist_app = typer.Typer(help="Numbers that are never dialed.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
call_app = typer.Typer(help="Look up calls.", no_args_is_help=True)

app.add_typer(campaign_app, name="campaign")
app.add_typer(contacts_app, name="contacts")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(db_app, name="db")
app.add_typer(call_app, name="call")

# Every command a person reads the output of takes it: the texts in English or Russian.
LangOption = Annotated[
    Lang,
    typer.Option(
        "--lang",
        envvar="DIALER_LANG",
        case_sensitive=False,
        help="Language of the texts a person reads: en or ru.",
    ),
]
