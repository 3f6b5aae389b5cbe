"""The monthly score of a property project (F-10): the formula, pure arithmetic.

    items        = share_items × (sum of the items' points) / total               (the committee's scoring)
    satisfaction = share_satisfaction × (mean answer − 1) / 4                    (1 → 0, 5 → full)
    rate         = complaints in the month × 1000 / households                   (12345, per 1,000 households)
    complaints   = share_complaints × max(0, 1 − rate / complaints_zero_at)      (0 complaints → full)
    score        = items + satisfaction + complaints, rounded to 2 decimals

The shares come from the indicators file (district default 70 / 20 / 10, zero at 30 per 1,000). A project whose
survey has fewer answers than `required_answers` is "样本不足": its parts are shown, it has no score and no rank;
so is one whose items were not submitted. Ranks: by score, highest first; equal scores share a rank (1, 2, 2, 4)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flows.property.indicators import Indicators


@dataclass(frozen=True)
class Score:
    items_part: float | None
    satisfaction_part: float | None
    complaints_part: float | None
    rate: float | None
    answers: int
    required: int
    total: float | None  # None: not ranked

    @property
    def sufficient(self) -> bool:
        return self.answers >= self.required


def required_answers(ind: Indicators, households: int) -> int:
    """The minimum number of households' answers: the smaller of `survey_min_answers` and the share of the
    households (rounded up), at least 1."""
    by_share = max(1, math.ceil(ind.survey_min_share * max(households, 0) - 1e-9))
    return max(1, min(ind.survey_min_answers, by_share))


def complaint_rate(complaints: int, households: int) -> float | None:
    return round(complaints * 1000 / households, 2) if households > 0 else None


def score(ind: Indicators, *, items_points: float | None, satisfaction_mean: float | None, answers: int,
          households: int, complaints: int) -> Score:
    shares = ind.shares
    items_part = None if items_points is None else shares["items"] * items_points / ind.total
    satisfaction_part = None
    if satisfaction_mean is not None and answers > 0:
        satisfaction_part = shares["satisfaction"] * (min(5.0, max(1.0, satisfaction_mean)) - 1) / 4
    rate = complaint_rate(complaints, households)
    complaints_part = None if rate is None else shares["complaints"] * max(0.0, 1 - rate / ind.complaints_zero_at)
    required = required_answers(ind, households)
    total = None
    if answers >= required and None not in (items_part, satisfaction_part, complaints_part):
        total = round(items_part + satisfaction_part + complaints_part, 2)  # type: ignore[operator]
    return Score(items_part=_r2(items_part), satisfaction_part=_r2(satisfaction_part),
                 complaints_part=_r2(complaints_part), rate=rate, answers=answers, required=required, total=total)


def _r2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def ranks(totals: Iterable[tuple[int, float | None]]) -> dict[int, int]:
    """Competition ranks (1, 2, 2, 4) of the keys with a total; keys without one are left out."""
    ordered = sorted(((k, t) for k, t in totals if t is not None), key=lambda kt: -kt[1])
    out: dict[int, int] = {}
    for i, (key, total) in enumerate(ordered):
        out[key] = out[ordered[i - 1][0]] if i and ordered[i - 1][1] == total else i + 1
    return out


def trend(now: float | None, before: float | None, *, still: float = 0.5) -> str:
    """↑ / ↓ / → against last month (a change under `still` points is steady); "" when either is missing."""
    if now is None or before is None:
        return ""
    if now - before >= still:
        return "↑"
    if before - now >= still:
        return "↓"
    return "→"


def bottom_streak(months: Sequence[dict[int, int]], count: int, *, bottom: int = 3) -> set[int]:
    """Keys in the bottom `bottom` ranks of each of the last `count` months (months oldest first)."""
    if len(months) < count or count <= 0:
        return set()
    flagged: set[int] | None = None
    for ranked in months[-count:]:
        if not ranked:
            return set()
        worst = sorted(ranked.items(), key=lambda kr: -kr[1])[:bottom]
        keys = {k for k, _ in worst}
        flagged = keys if flagged is None else flagged & keys
    return flagged or set()
