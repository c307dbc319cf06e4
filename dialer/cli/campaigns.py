"""`dialer campaign create|preview|delete`: a campaign file becomes a draft campaign; what one
contact's request will be; removing a campaign that is done with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dialer.callapi.errors import InvalidParams
from dialer.campaigns import (
    CampaignError,
    CampaignFileError,
    campaign_size,
    check_deletable,
    contact_problem,
    create_campaign,
    delete_campaign,
    find_campaign,
    load_campaign_file,
    window_warning,
)
from dialer.cli.app import LangOption, campaign_app
from dialer.cli.database import fail, open_database
from dialer.config import get_settings
from dialer.db import transaction
from dialer.preview import pick_contact, request_body
from dialer.reports.messages import Lang, Texts

Name = Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")]


@campaign_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The campaign file (TOML).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Update a draft campaign of the same name.")
    ] = False,
    lang: LangOption = Lang.EN,
) -> None:
    """Create a draft campaign from a campaign file; nothing is written if the file is wrong."""
    try:
        spec = load_campaign_file(file)
    except CampaignFileError as exc:
        fail(str(exc))
    try:
        with transaction(open_database()) as session:
            campaign = create_campaign(session, spec, replace=replace)
            campaign_id = campaign.id
    except CampaignError as exc:
        fail(str(exc))
    texts = Texts(lang)
    columns = ", ".join(sorted(spec.placeholders)) or texts("cli.none")
    typer.echo(
        texts("cli.created", name=spec.name, id=campaign_id, method=spec.method, columns=columns)
    )
    warning = window_warning(spec.name, spec.options.window, texts)
    if warning:
        typer.echo(warning, err=True)


@campaign_app.command("preview")
def preview(
    name: Name,
    contact: Annotated[
        str | None,
        typer.Option(
            "--contact", metavar="PHONE", help="This contact (default: the next one to dial)."
        ),
    ] = None,
) -> None:
    """Print the exact request one contact's call will send (secrets masked); nothing is sent."""
    with transaction(open_database()) as session:
        try:
            campaign = find_campaign(session, name)
            chosen = pick_contact(session, campaign, contact)
            body = request_body(campaign, chosen)
        except CampaignError as exc:
            fail(str(exc))
        except InvalidParams as exc:
            fail(f"the request for {chosen.phone} would be refused: {exc}")
        problem = contact_problem(campaign, chosen.variables or {})
    typer.echo(f"POST {get_settings().callapi_url}")
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    typer.echo(
        f"contact {chosen.phone} ({chosen.status.value}); external_id is made anew for each "
        "attempt and access_token is added when the request is sent",
        err=True,
    )
    if problem:
        typer.echo(f"warning: {problem}", err=True)


@campaign_app.command("delete")
def delete(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Delete a draft or finished campaign with its contacts and attempts."""
    with transaction(open_database()) as session:
        try:
            campaign = find_campaign(session, name)
            check_deletable(campaign)
        except CampaignError as exc:
            fail(str(exc))
        size = campaign_size(session, campaign)
        what = (
            f"campaign {campaign.name!r} ({campaign.state.value}) with its "
            f"{size.contacts} contacts and {size.attempts} attempts"
        )
        if not yes and not typer.confirm(f"Delete {what}?", default=False):
            fail("nothing was deleted", code=1)
        delete_campaign(session, campaign)
    typer.echo(f"deleted {what}")
