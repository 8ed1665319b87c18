"""The one narrow interface the rest of the project sees prices through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Quote:
    """A raw (not split-adjusted) close, as used for valuation and lot math."""

    symbol: str
    price: float
    as_of: dt.date | None
    source: str


class PriceProvider(Protocol):
    name: str

    def latest(self, symbols: Sequence[str], as_of: dt.date) -> dict[str, Quote]:
        """Last close on or before `as_of` for each symbol it has; missing symbols are left out."""
        ...


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after `start` up to and including `end` (holidays are not known here)."""
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (start + dt.timedelta(days=offset)).weekday() < 5:
            count += 1
    return count
