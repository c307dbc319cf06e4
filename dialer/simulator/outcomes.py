"""How simulated calls end: an outcome per call, drawn from set shares or scripted per number.

Every call a `start.*` method creates lasts the account's `call_duration` seconds. Its outcome
(`answered`, `busy`, `no_answer`, ...) is drawn when it is created, from `CallOutcomes.shares`,
unless `CallOutcomes.scripts` names the contact's number: then its calls end as scripted, in
order, the last outcome repeating. An outcome that is not one of `KINDS` is taken as a raw
`finish_reason` of a call nobody picked up, so that tests can feed the dialer values it does not
know. The `finish_reason` is spelled the UIS way (`subscriber_*`), the CallGear way (`caller_*`),
or either at random (`mixed`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Spelling = Literal["subscriber", "caller", "mixed"]
SPELLINGS: tuple[Spelling, ...] = ("subscriber", "caller", "mixed")

# Outcome kind -> (UIS spelling, CallGear spelling) of the finish_reason it ends with.
KINDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        # The contact picked up, listened, and hung up.
        "answered": ("subscriber_disconnects", "caller_disconnects"),
        "busy": ("subscriber_busy", "caller_busy"),
        "no_answer": ("subscriber_not_responsible", "caller_not_responsive"),
        "bad_number": ("subscriber_number_problems", "caller_number_problems"),
        "blocked": ("numa_in_black_list", "numa_in_black_list"),
        "provider_error": ("no_resources", "no_resources"),
        "campaign_error": ("not_enough_money", "not_enough_money"),
    }
)
ANSWERED = "answered"
DEFAULT_SHARES: Mapping[str, float] = MappingProxyType(
    {"answered": 0.6, "no_answer": 0.25, "busy": 0.1, "bad_number": 0.05}
)


@dataclass(frozen=True)
class CallOutcomes:
    """How the simulated account's calls end, and when they show in the Data API's reports."""

    # outcome -> weight (need not sum to 1)
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    scripts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # number -> outcomes
    answer_after: float = 5.0  # seconds from the call's start to the contact's pick-up
    report_delay: float = 10.0  # seconds from a call's end to its rows in the reports
    spelling: Spelling = "subscriber"

    def __post_init__(self) -> None:
        if not self.shares or any(w < 0 for w in self.shares.values()):
            raise ValueError("outcome shares need at least one outcome and no negative weight")
        if sum(self.shares.values()) <= 0:
            raise ValueError("outcome shares must not all be zero")
        if any(not script for script in self.scripts.values()):
            raise ValueError("a scripted number needs at least one outcome")
        if self.spelling not in SPELLINGS:
            raise ValueError(f"spelling is one of {', '.join(SPELLINGS)}, not {self.spelling!r}")
        if self.answer_after < 0 or self.report_delay < 0:
            raise ValueError("answer_after and report_delay are seconds, not negative")


@dataclass(frozen=True)
class Ending:
    """How one call ends: its `finish_reason`, and whether the contact picked up."""

    outcome: str
    finish_reason: str
    answered: bool


class OutcomeDrawer:
    """Draws each new call's ending; not thread-safe (the simulator holds its lock)."""

    def __init__(self, config: CallOutcomes, seed: int | None) -> None:
        self.config = config
        # Its own generator: drawing outcomes must not change which faults a seed injects.
        self._rng = random.Random(None if seed is None else f"outcomes-{seed}")
        self._calls_to: dict[str, int] = {}
        self._names = list(config.shares)
        self._weights = [config.shares[name] for name in self._names]

    def draw(self, contact: str) -> Ending:
        """The ending of the next call to `contact`."""
        outcome = self._scripted(contact) or self._rng.choices(self._names, self._weights)[0]
        return Ending(outcome, self._finish_reason(outcome), outcome == ANSWERED)

    def _scripted(self, contact: str) -> str | None:
        script = self.config.scripts.get(contact)
        if not script:
            return None
        made = self._calls_to.get(contact, 0)
        self._calls_to[contact] = made + 1
        return script[min(made, len(script) - 1)]

    def _finish_reason(self, outcome: str) -> str:
        spellings = KINDS.get(outcome)
        if spellings is None:
            return outcome  # a raw finish_reason, as configured
        spelling = self.config.spelling
        if spelling == "mixed":
            spelling = self._rng.choice(("subscriber", "caller"))
        return spellings[0] if spelling == "subscriber" else spellings[1]
