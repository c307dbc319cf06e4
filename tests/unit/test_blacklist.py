"""The blacklist: entries with source and time; adding marks waiting contacts everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from dialer.blacklist import (
    add_numbers,
    import_file,
    is_blacklisted,
    list_entries,
    normalize_all,
    remove_numbers,
)
from dialer.campaigns import create_campaign, parse_campaign
from dialer.models import BlacklistSource, Contact, ContactStatus

CAMPAIGN = """
name = "{name}"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
contact_message = {{ type = "media", value = "237" }}
"""


def _contact(session: Session, campaign_id: int, phone: str, status: ContactStatus) -> None:
    session.execute(
        insert(Contact).values(campaign_id=campaign_id, phone=phone, variables={}, status=status)
    )


def _statuses(session: Session) -> dict[tuple[int, str], ContactStatus]:
    session.expire_all()
    rows = session.query(Contact.campaign_id, Contact.phone, Contact.status)
    return {(c, p): s for c, p, s in rows}


def test_adding_marks_waiting_contacts_in_every_campaign(session: Session) -> None:
    one = create_campaign(session, parse_campaign(CAMPAIGN.format(name="one")))
    two = create_campaign(session, parse_campaign(CAMPAIGN.format(name="two")))
    _contact(session, one.id, "79260000001", ContactStatus.PENDING)
    _contact(session, two.id, "79260000001", ContactStatus.QUEUED)
    _contact(session, two.id, "79260000002", ContactStatus.PENDING)
    _contact(session, one.id, "79260000003", ContactStatus.PLACED)

    assert (
        add_numbers(session, ["79260000001", "79260000003"], BlacklistSource.MANUAL, "asked") == 2
    )

    assert _statuses(session) == {
        (one.id, "79260000001"): ContactStatus.BLACKLISTED,
        (two.id, "79260000001"): ContactStatus.BLACKLISTED,
        (two.id, "79260000002"): ContactStatus.PENDING,
        (one.id, "79260000003"): ContactStatus.PLACED,  # already called: history stays
    }
    assert is_blacklisted(session, "79260000001")
    assert not is_blacklisted(session, "79260000002")


def test_entries_keep_source_note_and_time(session: Session) -> None:
    add_numbers(session, ["79260000001"], "provider", note="contact_in_blacklist")
    add_numbers(session, ["79260000002", "79260000002"], BlacklistSource.MANUAL)
    entries = {e.phone: e for e in list_entries(session)}
    assert set(entries) == {"79260000001", "79260000002"}
    assert entries["79260000001"].source == BlacklistSource.PROVIDER
    assert entries["79260000001"].note == "contact_in_blacklist"
    assert entries["79260000002"].created_at.tzinfo is not None


def test_adding_again_counts_nothing_new(session: Session) -> None:
    assert add_numbers(session, ["79260000001"], BlacklistSource.MANUAL) == 1
    assert add_numbers(session, ["79260000001"], BlacklistSource.IMPORT) == 0
    assert list_entries(session)[0].source == BlacklistSource.MANUAL


def test_add_wants_normalized_numbers(session: Session) -> None:
    with pytest.raises(ValueError, match="not a normalized number"):
        add_numbers(session, ["+7 926 000 00 01"], BlacklistSource.MANUAL)


def test_remove_takes_numbers_off_but_does_not_revive_contacts(session: Session) -> None:
    campaign = create_campaign(session, parse_campaign(CAMPAIGN.format(name="one")))
    _contact(session, campaign.id, "79260000001", ContactStatus.PENDING)
    add_numbers(session, ["79260000001"], BlacklistSource.MANUAL)
    assert remove_numbers(session, ["79260000001", "79260000009"]) == 1
    assert not is_blacklisted(session, "79260000001")
    assert _statuses(session)[(campaign.id, "79260000001")] == ContactStatus.BLACKLISTED


def test_normalize_all_keeps_what_failed() -> None:
    result = normalize_all(["8 (926) 000-00-01", "12", "+7 926 000 00 02"])
    assert result.phones == ["79260000001", "79260000002"]
    assert [given for given, _ in result.rejected] == ["12"]


def test_import_a_file_with_a_header(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bl.csv"
    path.write_bytes("Телефон;Примечание\n8 (926) 000-00-09;нет\nxx;?\n".encode("cp1251"))
    summary = import_file(session, path)
    assert (summary.read, summary.added) == (2, 1)
    assert summary.rejected == [(3, "xx", "not a phone number: 'xx'")]
    assert list_entries(session)[0].source == BlacklistSource.IMPORT


def test_import_a_bare_list_of_numbers(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "bl.txt"
    path.write_text("89260000001\r\n+7 926 000 00 02\r\n89260000001\r\n", encoding="utf-8")
    summary = import_file(session, path)
    assert (summary.read, summary.added) == (3, 2)


def test_the_sample_blacklist(session: Session) -> None:
    sample = Path(__file__).resolve().parents[2] / "campaigns" / "blacklist-sample.csv"
    assert import_file(session, sample).added == 2
