"""What a call's `finish_reason` means for the dialer: one table, read from the provider's reports.

The Data API reports why each call session ended (`get.calls_report` / `get.call_legs_report`,
field `finish_reason`). UIS spells the contact's reasons `subscriber_*`, the same platform's English
pages `caller_*` (`subscriber_not_responsible` = `caller_not_responsive`); both are accepted. New
values will appear: an unknown one is kept raw and grouped as `other`, never an error.
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class Disposition(enum.StrEnum):
    """A call's result, grouped by what the dialer does next."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    BAD_NUMBER = "bad_number"
    BLOCKED = "blocked"
    CAMPAIGN_ERROR = "campaign_error"
    PROVIDER_ERROR = "provider_error"
    OTHER = "other"


_GROUPS: dict[Disposition, tuple[str, ...]] = {
    Disposition.ANSWERED: (
        "success_finish",
        "subscriber_disconnects",  # the contact hung up after picking up
        "operator_answer",
        "operator_disconnects",
        "another_operator_answer",
        "scenario_disconnects",
        "transfer_disconnects",
    ),
    Disposition.BUSY: ("subscriber_busy",),
    Disposition.NO_ANSWER: (
        "subscriber_not_responsible",
        "no_success_subscriber_call",
        "timeout",  # the campaign's dialing_timeout passed
    ),
    Disposition.BAD_NUMBER: ("subscriber_number_problems", "incorrect_input"),
    Disposition.BLOCKED: (
        "numa_in_black_list",
        "numa_in_spam_list",
        "locked_numb",  # the account's security settings forbid the number (e.g. abroad)
        "numa_dnd_interval",  # "called recently": the provider's own do-not-disturb interval
    ),
    Disposition.CAMPAIGN_ERROR: (
        "not_enough_money",
        "no_money",
        "limit_exceeded",  # a financial limit here, not the points limit
        "call_not_allowed_on_tp",
        "component_is_inactive",
        "api_permission_denied",
        "api_ip_now_allowed",
        "app_is_inactive",
        "numb_not_exists",
        "numb_is_inactive",
        "out_call_not_allowed",
        "account_not_found",
        "contract_not_found",
    ),
    Disposition.PROVIDER_ERROR: (
        "internal_error",
        "platform_not_found",
        "no_resources",
        "max_out_call_reached",
        "locked_phone",  # "network problems"
        "net_lock",
        "add_cdr_timeout",
        "sip_trunk_is_locked",
    ),
}

# The English pages' spelling of the contact's reasons, mapped to UIS's.
_SPELLINGS = {
    "caller_disconnects": "subscriber_disconnects",
    "caller_busy": "subscriber_busy",
    "caller_not_responsive": "subscriber_not_responsible",
    "caller_number_problems": "subscriber_number_problems",
    "no_success_caller_call": "no_success_subscriber_call",
}

FINISH_REASONS: MappingProxyType[str, Disposition] = MappingProxyType(
    {reason: group for group, reasons in _GROUPS.items() for reason in reasons}
)
"""Every known `finish_reason` (UIS spelling) and its disposition."""


def canonical_reason(finish_reason: str) -> str:
    """The UIS spelling of a `finish_reason` (`caller_busy` → `subscriber_busy`)."""
    reason = finish_reason.strip().lower()
    return _SPELLINGS.get(reason, reason)


def disposition_of(finish_reason: str | None, *, picked_up: bool | None = None) -> Disposition:
    """The disposition of a call that ended with `finish_reason`.

    `picked_up` is the contact leg's word (its `connect_time` is set): it settles a reason this
    table does not know, so that an unfamiliar value on a call the contact heard still counts as
    answered, while the raw value is kept by the caller.
    """
    known = FINISH_REASONS.get(canonical_reason(finish_reason or ""))
    if known is not None:
        return known
    if picked_up:
        return Disposition.ANSWERED
    return Disposition.OTHER
