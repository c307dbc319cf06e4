"""Every error the provider can answer a start.* request with, as the engine handles it:
campaign-fatal ones pause the campaign and lose nothing; contact ones end that contact; a
provider that cannot be reached pauses the campaign, keeping every contact."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine, func, select

from dialer import dialing, policy
from dialer.callapi.client import CallApiClient
from dialer.callapi.errors import MNEMONICS, Handling
from dialer.config import Settings
from dialer.db import transaction
from dialer.dialing import Dialer
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Budget,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
)
from tests.clock import Clock
from tests.unit.factories import dialable_campaign, phones
from tests.unit.factories import queue_contacts as queue

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
    _, [cid] = dialable_campaign(engine, phones(1))
    queue(engine, cid)
    client = CallApiClient.from_settings(settings, transport=refusing(mnemonic))
    dialing.place_call(Dialer(settings, engine, client, now=clock.utc, sleep=clock.sleep), cid)
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


def unreachable(fails: Callable[[int], bool], down: str = "refused") -> httpx.MockTransport:
    """A provider whose n-th request (from 0) cannot be reached when `fails(n)` (`down`: the
    connection refused, or a proxy's 503 page); the others are placed."""
    count = [0]

    def handle(request: httpx.Request) -> httpx.Response:
        n, count[0] = count[0], count[0] + 1
        if fails(n) and down == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if fails(n):
            return httpx.Response(503, text="<html>Service Unavailable</html>")
        body = json.loads(request.content)
        result = {"data": {"call_session_id": 1000 + n}}
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    return httpx.MockTransport(handle)


def dial_all(
    transport: httpx.MockTransport, engine: Engine, settings: Settings, clock: Clock, count: int
) -> tuple[Campaign, list[Contact]]:
    """Queue `count` contacts and dial each in turn; reload the campaign and the contacts."""
    _, ids = dialable_campaign(engine, phones(count))
    queue(engine, *ids)
    client = CallApiClient.from_settings(settings, transport=transport)
    dialer = Dialer(settings, engine, client, now=clock.utc, sleep=clock.sleep)
    for cid in ids:
        dialing.place_call(dialer, cid)
    with transaction(engine) as session:
        contacts = [session.get_one(Contact, cid) for cid in ids]
        return session.scalars(select(Campaign)).one(), contacts


@pytest.mark.parametrize(
    ("down", "reason"), [("refused", "connection refused"), ("503", "HTTP 503")]
)
def test_an_unreachable_provider_pauses_the_campaign_and_keeps_every_contact(
    sqlite_engine: Engine, settings: Settings, clock: Clock, down: str, reason: str
) -> None:
    transport = unreachable(lambda _: True, down)
    campaign, contacts = dial_all(transport, sqlite_engine, settings, clock, 4)

    assert campaign.state == CampaignState.PAUSED
    assert campaign.pause_reason is not None
    assert campaign.pause_reason.startswith(
        f"the Call API cannot be reached ({policy.UNREACHABLE_STREAK} tries in a row)"
    )
    assert reason in campaign.pause_reason
    assert {(c.status, c.requests, c.rounds) for c in contacts} == {(ContactStatus.PENDING, 0, 0)}
    with transaction(sqlite_engine) as session:
        outcomes = list(session.scalars(select(Attempt.outcome)))
        assert outcomes == [AttemptOutcome.UNREACHABLE] * policy.UNREACHABLE_STREAK
        # Nothing reached the provider, so every reserved point went back.
        assert session.scalars(select(Budget)).one().minute_remaining == 10


def test_a_provider_that_is_reached_now_and_then_is_not_paused(
    sqlite_engine: Engine, settings: Settings, clock: Clock
) -> None:
    streak = policy.UNREACHABLE_STREAK
    # Every `streak`-th request gets through: never `streak` failures in a row.
    transport = unreachable(lambda n: n % streak != streak - 1)
    campaign, contacts = dial_all(transport, sqlite_engine, settings, clock, 3)

    assert campaign.state == CampaignState.RUNNING
    placed = [c for c in contacts if c.status == ContactStatus.PLACED]
    waiting = [c for c in contacts if c.status == ContactStatus.PENDING]
    assert len(placed) + len(waiting) == len(contacts)
    assert placed
    # A contact whose every try failed to connect spent neither a request nor a round.
    assert all((c.requests, c.rounds) == (0, 0) for c in waiting)


@pytest.mark.simulator(tts_max_length=30)
def test_the_tts_limit_the_provider_names_is_learned_and_no_longer_sent_over(
    dialer: Dialer, sqlite_engine: Engine
) -> None:
    _, ids = dialable_campaign(sqlite_engine, phones(3), text="Здравствуйте, {name}!")
    names = ["Константин Константинович Константинопольский", "Ия", "Александра Александровна"]
    with transaction(sqlite_engine) as session:
        for cid, name in zip(ids, names, strict=True):
            session.get_one(Contact, cid).variables = {"name": name}
    queue(sqlite_engine, *ids)

    turns = [dialing.place_call(dialer, cid).status for cid in ids]

    with transaction(sqlite_engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        first, short, later = (session.get_one(Contact, cid) for cid in ids)
        sent = {
            cid: session.scalar(select(func.count()).where(Attempt.contact_id == cid))
            for cid in ids
        }
    assert turns == [dialing.Turn.FAILED, dialing.Turn.PLACED, dialing.Turn.FAILED]
    # The first long text went out and was refused: the provider named its limit.
    assert (first.error_mnemonic, sent[ids[0]]) == ("tts_text_exceeded", 1)
    assert campaign.tts_limit_learned == 30
    assert campaign.state == CampaignState.RUNNING
    assert short.status == ContactStatus.PLACED
    # A later text over it fails without a request, saying why.
    assert (later.status, later.error_mnemonic, sent[ids[2]]) == (
        ContactStatus.FAILED,
        "tts_text_exceeded",
        0,
    )
    assert later.error_message is not None
    assert "39 characters" in later.error_message
    assert "more than the 30" in later.error_message
    assert "not sent" in later.error_message
