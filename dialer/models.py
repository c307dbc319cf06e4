"""The tables: campaigns, their contacts, attempts (one per API request), the blacklist, and the
points budget that every process of one provider account shares."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dialer.db import Base, UTCDateTime, utcnow
from dialer.dispositions import Disposition


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the values as plain strings (no native ENUM type) so that adding a state needs no
    # ALTER TYPE, and the same migration runs on SQLite and PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class CampaignState(enum.StrEnum):
    """Where a campaign is in its life."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ContactStatus(enum.StrEnum):
    """Where one contact is: waiting, on its way, or done."""

    PENDING = "pending"
    QUEUED = "queued"
    DIALING = "dialing"
    PLACED = "placed"
    ANSWERED = "answered"
    NOT_ANSWERED = "not_answered"
    FAILED = "failed"
    BLACKLISTED = "blacklisted"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset(
    {
        ContactStatus.PLACED,
        ContactStatus.ANSWERED,
        ContactStatus.NOT_ANSWERED,
        ContactStatus.FAILED,
        ContactStatus.BLACKLISTED,
        ContactStatus.UNKNOWN,
        ContactStatus.CANCELLED,
    }
)


class AttemptOutcome(enum.StrEnum):
    """What one API request came to."""

    REQUESTING = "requesting"  # committed before the request; no answer recorded yet
    PLACED = "placed"  # the provider returned a call_session_id
    TRANSIENT = "transient"  # a cut reply / 5xx / internal_error: may be tried again
    UNREACHABLE = "unreachable"  # never reached the provider (refused, DNS, TLS, connect timeout)
    RATE_LIMITED = "rate_limited"  # limit_exceeded: costs the contact nothing
    CONTACT_ERROR = "contact_error"  # this contact can never be called (invalid, own number)
    BLACKLISTED = "blacklisted"  # contact_in_blacklist
    CAMPAIGN_ERROR = "campaign_error"  # the campaign cannot go on (paused)
    UNKNOWN = "unknown"  # the request may have reached the provider; could not be confirmed


class ReportStatus(enum.StrEnum):
    """Where the provider's report of an attempt's call stands (NULL: there is none to await)."""

    AWAITED = "awaited"  # the call was (or may have been) made; its end is not known yet
    FOUND = "found"  # the report gave the call's end
    ABSENT = "absent"  # the report proves that no call was made (a lost request)
    EXPIRED = "expired"  # not found within DIALER_OUTCOME_TIMEOUT: the outcome stays unknown


class BlacklistSource(enum.StrEnum):
    """How a number got onto the blacklist."""

    IMPORT = "import"
    MANUAL = "manual"
    PROVIDER = "provider"


class Campaign(Base):
    """A campaign definition: the API method, its parameters, windows, retries and pace."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    method: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The parsed optional sections of the campaign file ([window], [retry], [pace]).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str | None] = mapped_column(Text)  # the campaign file's text, for the record
    state: Mapped[CampaignState] = mapped_column(
        _enum(CampaignState, "campaign_state"), default=CampaignState.DRAFT, index=True
    )
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # Why a running campaign is not dialing right now (window closed, day limit) and until when.
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    waiting_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The longest text-to-speech text the provider named in a `tts_text_exceeded` refusal: longer
    # filled-in texts fail without a request (`dialer.campaigns.tts_refusal`).
    tts_limit_learned: Mapped[int | None] = mapped_column(Integer)

    contacts: Mapped[list[Contact]] = relationship(back_populates="campaign", lazy="raise")


class Contact(Base):
    """One phone number of one campaign, with its CSV columns and where it stands."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_contacts_due", "campaign_id", "status", "next_attempt_at"),
        Index("ix_contacts_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    line_no: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[ContactStatus] = mapped_column(
        _enum(ContactStatus, "contact_status"), default=ContactStatus.PENDING
    )
    # start.* requests that counted for it (feeds its next external_id): every one sent, less
    # those refused for the account's or the campaign's sake or that never reached the provider.
    requests: Mapped[int] = mapped_column(Integer, default=0)
    rounds: Mapped[int] = mapped_column(Integer, default=0)  # rounds used of [retry] attempts
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error_mnemonic: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="contacts", lazy="raise")


class Attempt(Base):
    """One API request for one contact, committed before the request is sent."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_contact", "contact_id", "requested_at"),
        Index("ix_attempts_campaign_time", "campaign_id", "requested_at"),
        Index("ix_attempts_outcome", "outcome"),
        Index("ix_attempts_report", "report_status", "report_asked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    call_session_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # as sent, access_token redacted
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[AttemptOutcome] = mapped_column(
        _enum(AttemptOutcome, "attempt_outcome"), default=AttemptOutcome.REQUESTING
    )
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_mnemonic: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the reconciler last asked for this attempt to be looked up (its worker died mid-request).
    lookup_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The call's own end, filled later from the provider's call reports (dialer.collector).
    report_status: Mapped[ReportStatus | None] = mapped_column(_enum(ReportStatus, "report_status"))
    report_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disposition: Mapped[Disposition | None] = mapped_column(_enum(Disposition, "disposition"))
    call_answered: Mapped[bool | None] = mapped_column(Boolean)  # the contact picked up
    finish_reason: Mapped[str | None] = mapped_column(String(100))  # raw, as the provider says
    listened_seconds: Mapped[int | None] = mapped_column(Integer)  # the contact leg's duration
    talk_duration: Mapped[int | None] = mapped_column(Integer)
    total_duration: Mapped[int | None] = mapped_column(Integer)
    call_finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BlacklistEntry(Base):
    """A number that is never dialed, in any campaign."""

    __tablename__ = "blacklist"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[BlacklistSource] = mapped_column(_enum(BlacklistSource, "blacklist_source"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Budget(Base):
    """The points budget of one provider account, shared by every process through this row."""

    __tablename__ = "budgets"

    account: Mapped[str] = mapped_column(String(300), primary_key=True)
    minute_limit: Mapped[int] = mapped_column(Integer)
    minute_remaining: Mapped[int] = mapped_column(Integer)
    minute_reset_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    day_limit: Mapped[int] = mapped_column(Integer)
    day_remaining: Mapped[int] = mapped_column(Integer)
    day_reset_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_seconds: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # last provider reply
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
