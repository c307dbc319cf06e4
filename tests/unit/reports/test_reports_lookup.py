"""Looking a call up by external_id or call_session_id, and that each lookup uses an index."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from dialer.models import AttemptOutcome, ContactStatus
from dialer.reports.lookup import call_details, find_attempt, lookup_queries
from tests.unit.factories import T0, add_attempt, add_campaign, add_contact


@pytest.fixture
def tried_twice(session: Session) -> Session:
    """A contact with a transient failure and then a placed call."""
    campaign = add_campaign(session)
    contact = add_contact(
        session, campaign, "79260000001", ContactStatus.PLACED, {"имя": "Иван"}, requests=2
    )
    add_attempt(
        session,
        contact,
        T0,
        AttemptOutcome.TRANSIENT,
        external_id="a-1",
        error_mnemonic="internal_error",
        error_message="try later",
    )
    add_attempt(
        session,
        contact,
        T0 + dt.timedelta(minutes=10),
        external_id="a-2",
        call_session_id=4242,
    )
    return session


def test_by_external_id_shows_every_attempt_of_the_contact(tried_twice: Session) -> None:
    details = call_details(tried_twice, "a-1")
    assert details is not None
    assert details.matched.external_id == "a-1"
    assert [a.external_id for a in details.attempts] == ["a-1", "a-2"]
    assert details.attempts[0].error_mnemonic == "internal_error"
    assert details.contact["phone"] == "79260000001"
    assert details.contact["variables"] == {"имя": "Иван"}
    assert details.campaign["name"] == "spring"
    as_dict = details.as_dict()
    assert "params" not in as_dict["matched"]
    assert "access_token" not in repr(as_dict)


def test_by_call_session_id(tried_twice: Session) -> None:
    details = call_details(tried_twice, " 4242 ")
    assert details is not None
    assert details.matched.external_id == "a-2"


def test_numeric_external_id_wins_over_a_session_id(tried_twice: Session) -> None:
    contact = add_contact(tried_twice, add_campaign(tried_twice, "other"), "79260000002")
    add_attempt(tried_twice, contact, external_id="4242")
    attempt = find_attempt(tried_twice, "4242")
    assert attempt is not None
    assert attempt.external_id == "4242"


@pytest.mark.parametrize("key", ["nope", "123", "99999999999999999999999"])
def test_unknown_ids(tried_twice: Session, key: str) -> None:
    assert call_details(tried_twice, key) is None


def test_every_lookup_searches_a_unique_index(session: Session) -> None:
    queries = lookup_queries("4242")
    assert len(queries) == 2
    for query in queries:
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = " ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "SEARCH attempts USING INDEX" in plan, plan
        assert "SCAN" not in plan, plan
