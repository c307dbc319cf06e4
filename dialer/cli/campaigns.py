"""`dialer campaign create`: a campaign file becomes a draft campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dialer.campaigns import CampaignError, CampaignFileError, create_campaign, load_campaign_file
from dialer.cli.app import campaign_app
from dialer.cli.database import fail, open_database
from dialer.db import transaction


@campaign_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="The campaign file (TOML).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Update a draft campaign of the same name.")
    ] = False,
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
    columns = ", ".join(sorted(spec.placeholders)) or "none"
    typer.echo(
        f"campaign {spec.name!r} (id {campaign_id}) is a draft: {spec.method}; "
        f"contact columns used: {columns}"
    )
