"""The fast path for Russian mobiles against `phonenumbers`, number by number, on a large corpus.

    .venv/bin/python -m bench.phones_fast_path --per-prefix 1

Every six-digit prefix of the national numbers that start with 9 (100,000 of them), a random
rest, each in the four usual shapes and a few near misses (a wrong prefix, one digit too many or
too few): `parse_phone` must give exactly what `parse_with_phonenumbers` gives, the same number
or the same reason. Prints how many were compared and the CPU time of each side.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator

from dialer.phones import InvalidPhoneError, Phone, parse_phone, parse_with_phonenumbers

SHAPES = (
    "+7 {a} {b} {c} {d}",
    "8 ({a}) {b}-{c}-{d}",
    "{a}{b}{c}{d}",
    "7{a}{b}{c}{d}",
)
NEAR_MISSES = ("+8{a}{b}{c}{d}", "77{a}{b}{c}{d}", "{a}{b}{c}{d}0", "8{a}{b}{c}", "+7{a}{b}{c}{d}1")


def corpus(per_prefix: int, seed: int) -> Iterator[str]:
    """The texts to compare, in a reproducible order."""
    rng = random.Random(seed)
    for prefix in range(900_000, 1_000_000):
        for _ in range(per_prefix):
            national = f"{prefix}{rng.randrange(10_000):04d}"
            parts = {"a": national[:3], "b": national[3:6], "c": national[6:8], "d": national[8:]}
            for shape in SHAPES:
                yield shape.format(**parts)
            yield rng.choice(NEAR_MISSES).format(**parts)


def outcome(parse: Callable[[str], Phone], raw: str) -> Phone | str:
    """The parse's answer: the number, or the reason it is not one."""
    try:
        return parse(raw)
    except InvalidPhoneError as exc:
        return f"error: {exc}"


def main() -> None:
    """Compare every text of the corpus; exit non-zero on the first difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-prefix", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    texts = list(corpus(args.per_prefix, args.seed))
    started = time.process_time()
    fast = [outcome(parse_phone, raw) for raw in texts]
    fast_s = time.process_time() - started
    started = time.process_time()
    full = [outcome(parse_with_phonenumbers, raw) for raw in texts]
    full_s = time.process_time() - started
    for raw, mine, reference in zip(texts, fast, full, strict=True):
        if mine != reference:
            raise SystemExit(f"{raw!r}: fast path {mine!r}, phonenumbers {reference!r}")
    valid = sum(isinstance(r, Phone) for r in full)
    print(f"{len(texts):,} texts compared one by one, all equal ({valid:,} valid numbers)")
    print(f"parse_phone: {fast_s / len(texts) * 1e6:.1f} µs CPU a text; ", end="")
    print(f"phonenumbers alone: {full_s / len(texts) * 1e6:.1f} µs CPU a text")


if __name__ == "__main__":
    main()
