"""The CSV import on PostgreSQL: ON CONFLICT dedupe, re-import, the blacklist, rejects."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from dialer.blacklist import add_numbers, is_blacklisted, remove_numbers
from dialer.campaigns import create_campaign, load_campaign_file
from dialer.contacts import import_contacts
from dialer.db import transaction
from dialer.models import BlacklistSource, Campaign, Contact, ContactStatus

pytestmark = pytest.mark.postgres
EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns"


def _campaign(engine: Engine) -> Campaign:
    # The scratch database is shared by the whole run: give every campaign its own name.
    spec = load_campaign_file(EXAMPLES / "order-ready.toml")
    with transaction(engine) as session:
        campaign = create_campaign(session, spec)
        campaign.name = f"order-ready-{uuid.uuid4().hex[:8]}"
    return campaign


def test_import_dedupes_and_reimport_adds_nothing(postgres_engine: Engine, tmp_path: Path) -> None:
    campaign = _campaign(postgres_engine)
    blocked = f"7926{uuid.uuid4().int % 10**7:07d}"  # not a sample number: the db is shared
    with transaction(postgres_engine) as session:
        add_numbers(session, ["79260000009"], BlacklistSource.IMPORT)
        add_numbers(session, [blocked], BlacklistSource.MANUAL)
    sample = EXAMPLES / "contacts-sample.csv"

    with transaction(postgres_engine) as session:
        first = import_contacts(
            session,
            session.get_one(Campaign, campaign.id),
            sample,
            rejects_path=tmp_path / "1.csv",
            batch_size=4,
        )
    assert (first.read, first.imported, first.duplicates, first.rejected) == (20, 15, 2, 3)
    assert first.blacklisted == 1

    with transaction(postgres_engine) as session:
        second = import_contacts(
            session, session.get_one(Campaign, campaign.id), sample, rejects_path=tmp_path / "2.csv"
        )
    assert (second.imported, second.duplicates, second.rejected) == (0, 17, 3)
    assert "already in the campaign (line 2 of an earlier import)" in (
        tmp_path / "2.csv"
    ).read_text(encoding="cp1251")

    with transaction(postgres_engine) as session:
        contacts = {
            c.phone: c
            for c in session.scalars(select(Contact).where(Contact.campaign_id == campaign.id))
        }
        assert len(contacts) == 15
        assert contacts["79260000009"].status == ContactStatus.BLACKLISTED
        assert contacts["79260000001"].variables["Имя"] == "Анна"
        assert contacts["74951234567"].timezone == "Europe/Moscow"

        add_numbers(session, ["79260000001"], BlacklistSource.PROVIDER)
        assert is_blacklisted(session, "79260000001")
        session.flush()
        session.expire_all()
        phone = session.get_one(Contact, contacts["79260000001"].id)
        assert phone.status == ContactStatus.BLACKLISTED
        remove_numbers(session, ["79260000001", "79260000009", blocked])  # the db is shared
