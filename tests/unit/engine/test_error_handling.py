"""Every error the provider can answer a start.* request with, as the engine handles it:
campaign-fatal ones pause the campaign and lose nothing; contact ones end that contact."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import Engine, select

from dialer import dialing
from dialer.callapi.client import CallApiClient
from dialer.callapi.errors import MNEMONICS, Handling
from dialer.config import Settings
from dialer.db import transaction
from dialer.dialing import Dialer
from dialer.models import Campaign, CampaignState, Contact, ContactStatus
from tests.unit.engine.conftest import Clock, add_campaign, phones
from tests.unit.engine.test_dialing import queue

# With a permanent key, a refused token is as fatal as an unknown virtual number.
PAUSING = sorted(
    m
    for m, cls in MNEMONICS.items()
    if cls.handling in (Handling.CAMPAIGN, Handling.REQUEST, Handling.AUTH)
)
ENDING = sorted(m for m, cls in MNEMONICS.items() if cls.handling is Handling.CONTACT)


def refusing(mnemonic: str, code: int = -32602) -> httpx.MockTransport:
    """A provider that answers every request with one error."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        error = {"code": code, "message": "refused", "data": {"mnemonic": mnemonic}}
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": error})

    return httpx.MockTransport(handle)


def dial_refused(
    mnemonic: str, engine: Engine, settings: Settings, clock: Clock
) -> tuple[Campaign, Contact]:
    """Queue one contact, dial it against a provider refusing with `mnemonic`, and reload both."""
    _, [cid] = add_campaign(engine, phones(1))
    queue(engine, cid)
    client = CallApiClient.from_settings(settings, transport=refusing(mnemonic))
    dialing.place_call(Dialer(settings, engine, client, now=clock, sleep=clock.sleep), cid)
    with transaction(engine) as session:
        return session.scalars(select(Campaign)).one(), session.get_one(Contact, cid)


@pytest.mark.parametrize("mnemonic", PAUSING)
def test_a_campaign_fatal_answer_pauses_the_campaign_with_the_reason(
    mnemonic: str, sqlite_engine: Engine, settings: Settings, clock: Clock
) -> None:
    campaign, contact = dial_refused(mnemonic, sqlite_engine, settings, clock)

    assert campaign.state == CampaignState.PAUSED
    assert campaign.pause_reason is not None
    assert campaign.pause_reason.startswith(mnemonic)
    # Nothing lost: the contact waits, its rounds untouched, for `resume`.
    assert (contact.status, contact.requests, contact.rounds) == (ContactStatus.PENDING, 0, 0)


@pytest.mark.parametrize("mnemonic", ENDING)
def test_a_contact_answer_ends_only_that_contact(
    mnemonic: str, sqlite_engine: Engine, settings: Settings, clock: Clock
) -> None:
    campaign, contact = dial_refused(mnemonic, sqlite_engine, settings, clock)

    assert campaign.state == CampaignState.RUNNING
    expected = (
        ContactStatus.BLACKLISTED if mnemonic == "contact_in_blacklist" else ContactStatus.FAILED
    )
    assert (contact.status, contact.error_mnemonic) == (expected, mnemonic)
