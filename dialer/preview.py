"""`dialer campaign preview`: the exact request one contact's call would send, secrets masked.

Built by the same code the worker dials with, so what the user checks is what goes out; only
the `external_id` differs, being made anew for every attempt.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from dialer.callapi.methods import TOKEN
from dialer.campaigns import CampaignError
from dialer.dialing import _request_params
from dialer.models import Campaign, Contact, ContactStatus
from dialer.phones import InvalidPhoneError, normalize_phone
from dialer.secrets import REDACTED


def pick_contact(session: Session, campaign: Campaign, phone: str | None) -> Contact:
    """The contact with `phone`, or else the next one to be dialed (the first if none is)."""
    query = select(Contact).where(Contact.campaign_id == campaign.id)
    if phone is not None:
        try:
            digits = normalize_phone(phone)
        except InvalidPhoneError as exc:
            raise CampaignError(f"--contact: {exc}") from None
        contact = session.scalars(query.where(Contact.phone == digits)).first()
        if contact is None:
            raise CampaignError(f"campaign {campaign.name!r} has no contact {digits}")
        return contact
    pending_first = case((Contact.status == ContactStatus.PENDING, 0), else_=1)
    contact = session.scalars(query.order_by(pending_first, Contact.id).limit(1)).first()
    if contact is None:
        raise CampaignError(
            f"campaign {campaign.name!r} has no contacts to preview; import them first"
        )
    return contact


def request_body(campaign: Campaign, contact: Contact) -> dict[str, Any]:
    """The JSON-RPC request for `contact`, its token masked."""
    params = _request_params(campaign, contact)
    params[TOKEN] = REDACTED
    return {"jsonrpc": "2.0", "id": "…", "method": campaign.method, "params": params}
