"""The JSON delivery report: `{"campaign": ..., "summary": ..., "contacts": [...]}`, written
incrementally, one contact at a time, so that a million contacts never sit in memory at once.

Each contact has the report's columns, its variables, and `attempts`: every attempt made for it,
oldest first, with its call's own outcome (`calls.with_attempts`)."""

from __future__ import annotations

import json
from typing import IO

from sqlalchemy.orm import Session

from dialer.models import Campaign
from dialer.reports.calls import with_attempts
from dialer.reports.rows import iter_contact_rows
from dialer.reports.summary import campaign_info, campaign_summary


def write_json(session: Session, campaign: Campaign, out: IO[str]) -> int:
    """Write the campaign's JSON report to `out`; return the number of contacts written."""
    summary = campaign_summary(session, campaign)
    head = json.dumps(campaign_info(campaign), ensure_ascii=False)
    out.write(f'{{"campaign": {head},\n "summary": ')
    out.write(json.dumps(summary.as_dict(), ensure_ascii=False))
    out.write(',\n "contacts": [')
    count = 0
    for row, attempts in with_attempts(session, iter_contact_rows(session, campaign.id)):
        item = row.fields()
        item["variables"] = row.variables
        item["attempts"] = attempts
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n ]}\n")
    return count
