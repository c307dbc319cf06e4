"""Campaign files (`campaigns/*.toml`): read, validate completely, and store as a draft campaign.

Everything is checked before anything is written, and every complaint names the file and the key,
e.g. `order-ready.toml: [params].dialing_timeout: must be more than 0 and at most 120 seconds`.
The `[params]` table holds the Call API's own parameter names; `contact`, `external_id` and
`access_token` are the dialer's to fill for each call.

It is longer than most modules because it checks every key of every section of the file, each
with its own message; the checks are flat and read one by one.
"""

from __future__ import annotations

import itertools
import logging
import re
import tomllib
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from dialer.callapi.errors import CallApiError, InvalidParams, tts_limit_named
from dialer.callapi.methods import START_METHODS, validate_params
from dialer.config import get_settings
from dialer.models import Attempt, Campaign, CampaignState, Contact
from dialer.options import (
    DEFAULT_TIMEZONE,
    WEEKDAYS,
    CampaignOptions,
    Contacts,
    Pace,
    Retry,
    Window,
)
from dialer.phones import is_region
from dialer.reports.messages import Texts
from dialer.templates import TemplateError, placeholders, render, render_with

log = logging.getLogger("dialer.campaigns")

TOP_LEVEL_KEYS = ("name", "method", "params", "window", "retry", "pace", "contacts")
FILLED_BY_DIALER = ("contact", "external_id", "access_token")
MAX_NAME_LENGTH = 200
MAX_ATTEMPTS = 100
# Stand-ins used only to validate the file: a real-looking contact and id, and placeholder text.
SAMPLE_CONTACT = "79260000000"
SAMPLE_EXTERNAL_ID = "dialer-check"
SAMPLE_TEXT = "sample"

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: i for names in (WEEKDAYS, _FULL_DAYS) for i, name in enumerate(names)}


class CampaignFileError(ValueError):
    """A campaign file cannot be used; the message names the file and the key at fault."""


class CampaignError(ValueError):
    """A campaign cannot be created or changed as asked."""


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign file: what `create_campaign` stores."""

    name: str
    method: str
    params: dict[str, Any]
    options: CampaignOptions
    source: str

    @property
    def placeholders(self) -> set[str]:
        """The contact columns the parameters use."""
        return placeholders(self.params)


class _Problem(Exception):
    # Raised by the section readers; turned into CampaignFileError with the file name on top.
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def load_campaign_file(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign file; raises CampaignFileError naming the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}: cannot read the file: {exc}") from exc
    return parse_campaign(text, str(path))


def parse_campaign(text: str, filename: str = "<campaign>") -> CampaignSpec:
    """Validate campaign-file text (TOML); `filename` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignFileError(f"{filename}: TOML syntax error: {exc}") from exc
    try:
        return _spec(data, text)
    except _Problem as problem:
        raise CampaignFileError(f"{filename}: {problem}") from None


def _spec(data: dict[str, Any], text: str) -> CampaignSpec:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _Problem(key, f"unknown key (expected one of: {', '.join(TOP_LEVEL_KEYS)})")
    name = _name(data)
    method = _method(data)
    params = _params(method, data.get("params"))
    options = CampaignOptions(
        window=_window(_table(data, "window")),
        retry=_retry(_table(data, "retry")),
        pace=_pace(_table(data, "pace")),
        contacts=_contacts(_table(data, "contacts")),
    )
    return CampaignSpec(name=name, method=method, params=params, options=options, source=text)


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _Problem(key, "must be a table")
    return value


def _name(data: Mapping[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Problem("name", "is required and must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise _Problem("name", f"must be at most {MAX_NAME_LENGTH} characters")
    return name.strip()


def _method(data: Mapping[str, Any]) -> str:
    method = data.get("method")
    if method not in START_METHODS:
        choices = ", ".join(sorted(START_METHODS))
        raise _Problem("method", f"{method!r} is not a campaign method (one of: {choices})")
    assert isinstance(method, str)
    return method


def _params(method: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Problem("[params]", "is required and must be a table")
    for key in FILLED_BY_DIALER:
        if key in raw:
            raise _Problem(f"[params].{key}", "is filled by the dialer; remove it from the file")
    # The docs disagree on the default direction; always send one.
    params = {**raw, "direction": raw.get("direction", "out")}
    try:
        sample = render_with(params, SAMPLE_TEXT)
    except TemplateError as exc:
        raise _Problem(f"[params].{exc.path}", exc.message) from None
    sample.update(contact=SAMPLE_CONTACT, external_id=SAMPLE_EXTERNAL_ID)
    try:
        validate_params(method, sample, require_token=False)
    except InvalidParams as exc:
        raise _Problem(f"[params].{exc.field}", exc.message) from None
    _check_tts_template(params)
    return params


def _check_tts_template(params: dict[str, Any]) -> None:
    # The text without its placeholders is the shortest any contact can get: if that is already
    # too long, every request would be refused with `tts_text_exceeded`.
    limit = tts_max_length()
    if limit is None:
        return
    too_long = tts_too_long(render_with(params, ""), limit)
    if too_long is not None:
        path, length = too_long
        raise _Problem(
            f"[params].{path}",
            f"the text-to-speech text is {length} characters even with its placeholders empty, "
            f"more than the {limit} the tariff allows (DIALER_TTS_MAX_LENGTH)",
        )


# --- text-to-speech length -----------------------------------------------------------------------


def tts_max_length() -> int | None:
    """The longest text-to-speech text the provider's tariff accepts, when it is configured."""
    # getattr: the setting is new; read it this way until every branch has it.
    limit: int | None = getattr(get_settings(), "tts_max_length", None)
    return limit


def tts_texts(params: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, text) of every text-to-speech message (`{type = "tts", value = ...}`)."""
    if isinstance(params, Mapping):
        if params.get("type") == "tts" and isinstance(params.get("value"), str):
            yield (f"{path}.value" if path else "value"), params["value"]
        for key, value in params.items():
            yield from tts_texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(params, list | tuple):
        for index, value in enumerate(params):
            yield from tts_texts(value, f"{path}[{index}]")


def tts_too_long(params: Mapping[str, Any], limit: int) -> tuple[str, int] | None:
    """(key path, length) of the first text-to-speech text longer than `limit`, or None."""
    return next(((p, len(text)) for p, text in tts_texts(params) if len(text) > limit), None)


def contact_problem(campaign: Campaign, variables: Mapping[str, str | None]) -> str | None:
    """Why the request for a contact with these CSV columns would be refused before it is sent
    (its filled-in text-to-speech text is over DIALER_TTS_MAX_LENGTH or over the limit the
    provider named for this campaign), or None.

    The contacts import rejects such a row with this reason instead of wasting a request on it.
    """
    limit, source = _tts_limit(campaign)
    if limit is None:
        return None
    try:
        too_long = tts_too_long(render(campaign.params, variables), limit)
    except TemplateError as exc:
        return str(exc)
    if too_long is None:
        return None
    path, length = too_long
    return _too_long_reason(path, length, limit, source)


def _tts_limit(campaign: Campaign) -> tuple[int | None, str]:
    """The lower of DIALER_TTS_MAX_LENGTH and the limit learned from the provider, and whence."""
    configured, learned = tts_max_length(), campaign.tts_limit_learned
    if learned is not None and (configured is None or learned < configured):
        return learned, LEARNED_SOURCE
    return configured, "DIALER_TTS_MAX_LENGTH"


LEARNED_SOURCE = "as the provider said in an earlier tts_text_exceeded"


def _too_long_reason(path: str, length: int, limit: int, source: str) -> str:
    where = "" if source == LEARNED_SOURCE else f" ({source})"
    said = f", {source}" if source == LEARNED_SOURCE else ""
    return (
        f"the text-to-speech text ({path}) is {length} characters once filled in, more than "
        f"the {limit} the tariff allows{where}{said}"
    )


def learn_tts_limit(session: Session, campaign: Campaign, error: CallApiError | None) -> None:
    """Remember the limit a `tts_text_exceeded` refusal names, so that no later text over it is
    sent; the lowest one named stands (several workers may learn it at once)."""
    limit = tts_limit_named(error) if error is not None else None
    if limit is None:
        return
    learned = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign.id,
            or_(Campaign.tts_limit_learned.is_(None), Campaign.tts_limit_learned > limit),
        )
        .values(tts_limit_learned=limit)
        .execution_options(synchronize_session=False)
    )
    if getattr(learned, "rowcount", 0) != 1:
        return
    log.warning(
        "campaign %s: the provider allows text-to-speech texts of %d characters at most; "
        "longer ones now fail without a request",
        campaign.name,
        limit,
    )


def tts_refusal(campaign: Campaign, params: Mapping[str, Any]) -> None:
    """Raise `InvalidParams` (`tts_text_exceeded`) when a filled-in text is over the limit the
    provider named for this campaign: the request would only be refused again."""
    limit = campaign.tts_limit_learned
    if limit is None:
        return
    too_long = tts_too_long(params, limit)
    if too_long is not None:
        path, length = too_long
        reason = (
            f"the text-to-speech text is {length} characters once filled in, more than the "
            f"{limit} the tariff allows, {LEARNED_SOURCE}; not sent"
        )
        raise InvalidParams(campaign.method, path, "tts_text_exceeded", reason)


def _allow_only(section: str, table: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    for key in table:
        if key not in keys:
            expected = ", ".join(keys)
            raise _Problem(f"[{section}].{key}", f"unknown key (expected one of: {expected})")


def _window(table: Mapping[str, Any]) -> Window:
    _allow_only("window", table, ("timezone", "contact_timezone", "days", "hours"))
    timezone = table.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str) or not _is_zone(timezone):
        raise _Problem("[window].timezone", f"{timezone!r} is not a known time zone")
    contact_timezone = table.get("contact_timezone", False)
    if not isinstance(contact_timezone, bool):
        raise _Problem("[window].contact_timezone", "must be true or false")
    return Window(
        timezone=timezone,
        contact_timezone=contact_timezone,
        days=_days(table.get("days", list(WEEKDAYS))),
        hours=_hours(table.get("hours", ["00:00-24:00"])),
    )


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _days(raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        raise _Problem("[window].days", f"must be a non-empty list of {', '.join(WEEKDAYS)}")
    days: set[int] = set()
    for index, day in enumerate(raw):
        number = _DAY_NAMES.get(day.strip().lower()) if isinstance(day, str) else None
        if number is None:
            raise _Problem(f"[window].days[{index}]", f"{_show(day)} is not a weekday (mon..sun)")
        days.add(number)
    return tuple(sorted(days))


def _hours(raw: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, list) or not raw:
        raise _Problem("[window].hours", 'must be a non-empty list like ["09:00-21:00"]')
    ranges = [_time_range(f"[window].hours[{i}]", item) for i, item in enumerate(raw)]
    ranges.sort()
    for (_, end), (start, _) in itertools.pairwise(ranges):
        if start < end:
            raise _Problem("[window].hours", "time ranges overlap")
    return tuple(ranges)


def _time_range(key: str, item: Any) -> tuple[int, int]:
    match = _HOURS.match(item) if isinstance(item, str) else None
    if match is None:
        raise _Problem(key, f'{_show(item)} is not a time range like "09:00-21:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise _Problem(key, f"{_show(item)} is not a time range (times run 00:00 to 24:00)")
    if start >= end:
        raise _Problem(key, f"{_show(item)} ends before it starts")
    return start, end


def _show(value: Any) -> str:
    # TOML-style double quotes read better in messages about a TOML file.
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _retry(table: Mapping[str, Any]) -> Retry:
    _allow_only("retry", table, ("attempts", "delays", "busy", "no_answer"))
    attempts = table.get("attempts", Retry.rounds)
    if not _is_int(attempts) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise _Problem("[retry].attempts", f"must be a whole number from 1 to {MAX_ATTEMPTS}")
    raw = table.get("delays", list(Retry.delays))
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _Problem("[retry].delays", "must not be empty")
    key = "[retry].delays" if not isinstance(raw, list) else None
    delays = tuple(_seconds(key or f"[retry].delays[{i}]", d) for i, d in enumerate(items))
    return Retry(
        rounds=attempts,
        delays=delays,
        busy=_optional_seconds("[retry].busy", table.get("busy")),
        no_answer=_optional_seconds("[retry].no_answer", table.get("no_answer")),
    )


def _optional_seconds(key: str, value: Any) -> float | None:
    """A redial delay, or None when the key is absent (no redial for that result)."""
    return None if value is None else _seconds(key, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise _Problem(key, f'{_show(value)} is not a delay (seconds, or like "30s", "5m", "2h")')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _pace(table: Mapping[str, Any]) -> Pace:
    _allow_only("pace", table, ("calls_per_minute",))
    cap = table.get("calls_per_minute")
    if cap is not None and (not _is_int(cap) or cap < 1):
        raise _Problem("[pace].calls_per_minute", "must be a whole number of at least 1")
    return Pace(calls_per_minute=cap)


def _contacts(table: Mapping[str, Any]) -> Contacts:
    _allow_only("contacts", table, ("countries",))
    raw = table.get("countries", [])
    if not isinstance(raw, list):
        raise _Problem("[contacts].countries", 'must be a list of country codes like ["RU", "UA"]')
    countries: list[str] = []
    for index, code in enumerate(raw):
        if not isinstance(code, str) or not is_region(code.strip().upper()):
            raise _Problem(f"[contacts].countries[{index}]", f"{_show(code)} is not a country code")
        countries.append(code.strip().upper())
    return Contacts(countries=tuple(dict.fromkeys(countries)))


# --- storing -------------------------------------------------------------------------------------


def create_campaign(session: Session, spec: CampaignSpec, *, replace: bool = False) -> Campaign:
    """Store `spec` as a draft campaign; with `replace`, overwrite a draft of the same name."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == spec.name))
    if campaign is None:
        campaign = Campaign(name=spec.name, state=CampaignState.DRAFT)
        session.add(campaign)
    elif campaign.state != CampaignState.DRAFT:
        raise CampaignError(_not_replaceable(campaign))
    elif not replace:
        raise CampaignError(f"campaign {spec.name!r} already exists (use --replace to update it)")
    else:
        _check_imported_columns(session, campaign, spec)
    campaign.method = spec.method
    campaign.params = spec.params
    campaign.options = spec.options.to_json()
    campaign.source = spec.source
    session.flush()
    return campaign


def _not_replaceable(campaign: Campaign) -> str:
    # Only a draft can be replaced: say what does work for the others.
    name, state = campaign.name, campaign.state
    if state in FINISHED:
        how = f"`dialer campaign delete {name}` removes it, or give the file another name"
    else:
        how = f"a {state.value} campaign cannot be changed; give the file another name"
    return (
        f"campaign {name!r} already exists and is {state.value} "
        f"(only a draft can be replaced): {how}"
    )


def _check_imported_columns(session: Session, campaign: Campaign, spec: CampaignSpec) -> None:
    # A replaced file must still be fillable from the contacts already imported.
    contact = session.scalars(
        select(Contact).where(Contact.campaign_id == campaign.id).limit(1)
    ).first()
    if contact is None:
        return
    missing = sorted(spec.placeholders - set(contact.variables or {}))
    if missing:
        names = ", ".join(f"{{{name}}}" for name in missing)
        raise CampaignError(
            f"the new file of campaign {spec.name!r} uses {names}, which its imported contacts "
            "lack; nothing was changed"
        )


# Campaigns that may be deleted: nothing more will be dialed for them.
FINISHED = frozenset({CampaignState.COMPLETED, CampaignState.CANCELLED})
DELETABLE = FINISHED | {CampaignState.DRAFT}


@dataclass(frozen=True)
class CampaignSize:
    """What deleting a campaign would remove."""

    contacts: int
    attempts: int


def campaign_size(session: Session, campaign: Campaign) -> CampaignSize:
    """How many contacts and attempts the campaign holds."""
    return CampaignSize(
        contacts=_count(session, Contact, Contact.campaign_id == campaign.id),
        attempts=_count(session, Attempt, Attempt.campaign_id == campaign.id),
    )


def _count(session: Session, model: type[Contact] | type[Attempt], where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(where)) or 0


def check_deletable(campaign: Campaign) -> None:
    """Raise CampaignError unless the campaign is a draft or finished."""
    if campaign.state not in DELETABLE:
        raise CampaignError(
            f"campaign {campaign.name!r} is {campaign.state.value}: only a draft or a finished "
            f"campaign can be deleted (`dialer campaign cancel {campaign.name}` finishes it)"
        )


def delete_campaign(session: Session, campaign: Campaign) -> None:
    """Delete a draft or finished campaign with its contacts and attempts."""
    check_deletable(campaign)
    # Attempts, then contacts, then the campaign: the order foreign keys allow everywhere.
    session.execute(delete(Attempt).where(Attempt.campaign_id == campaign.id))
    session.execute(delete(Contact).where(Contact.campaign_id == campaign.id))
    session.execute(delete(Campaign).where(Campaign.id == campaign.id))
    session.expunge(campaign)


def calls_at_any_hour(window: Window) -> bool:
    """True for the window of a file without `[window]`: every day, around the clock."""
    return window.days == Window.days and window.hours == Window.hours


def window_warning(name: str, window: Window, texts: Texts | None = None) -> str | None:
    """A warning when the campaign has no calling window, else None."""
    if not calls_at_any_hour(window):
        return None
    return (texts or Texts())("warn.no_window", name=name)


def stored_window_warning(campaign: Campaign, texts: Texts | None = None) -> str | None:
    """`window_warning` for a stored campaign."""
    window = CampaignOptions.from_json(campaign.options).window
    return window_warning(campaign.name, window, texts)


def find_campaign(session: Session, ref: str) -> Campaign:
    """The campaign named `ref`, or with id `ref`; raises CampaignError if there is none."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == ref))
    if campaign is None and ref.isdigit():
        campaign = session.get(Campaign, int(ref))
    if campaign is None:
        raise CampaignError(f"no campaign named {ref!r}")
    return campaign
