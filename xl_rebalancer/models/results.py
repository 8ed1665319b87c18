"""Frozen result models; the writer turns each into an engine sheet."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..errors import Problem


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class DriftRow(Result):
    """Drift of one target line (a symbol, an asset class, or CASH)."""

    asset_class: str | None
    symbol: str | None
    value: float
    weight: float
    target_weight: float
    drift: float
    relative_drift: float | None
    band: float
    out_of_band: bool
    post_trade_weight: float | None = None


class AccountRow(Result):
    """One account before and after the trades (the Report's "by account" view)."""

    account: str
    type: str
    value_before: float
    value_after: float
    cash_before: float
    cash_after: float


class Trade(Result):
    """One trade line: a buy per (account, symbol), or a sell per lot."""

    account: str
    symbol: str
    action: Literal["BUY", "SELL"]
    shares: float
    price: float
    value: float
    lot_id: str | None = None
    acquired: dt.date | None = None
    holding_start: dt.date | None = None  # a replacement buy's, tacked on (IRC §1223(3))
    cost_basis: float | None = None
    realized_gain: float | None = None
    term: Literal["ST", "LT"] | None = None
    est_tax: float = 0.0
    est_cost: float = 0.0
    reason: str = ""


class HarvestRow(Result):
    account: str
    symbol: str
    lot_id: str
    shares: float
    price: float
    unrealized_loss: float
    term: Literal["ST", "LT"]
    substitute: str | None
    wash_sale: Literal["clear", "blocked"]
    blocked_by: str | None
    est_tax_saving: float


class RealizedRow(Result):
    """A sale in Form 8949's layout (columns (a)-(h)), or a Part's total."""

    part: Literal["I", "II", ""]  # I: short-term, II: long-term; blank: term unknown
    description: str  # (a), e.g. "100 sh. VTI"
    account: str
    date_acquired: dt.date | None  # (b)
    date_sold: dt.date | None  # (c)
    proceeds: float  # (d), net of selling costs
    cost_basis: float | None  # (e)
    code: str | None  # (f): W for a wash sale
    adjustment: float | None  # (g): the disallowed loss, positive
    gain_loss: float | None  # (h) = (d) - (e) + (g)
    source: str


class SummaryItem(Result):
    # `name` is stable snake_case (the --json key, docs/json.md); `key` is the label the
    # Summary sheet shows, free to be reworded.
    name: str
    key: str
    value: str | float | int | bool | None


class LogEntry(Result):
    time: dt.datetime | None = None
    level: Literal["error", "warning", "info"] = "info"
    sheet: str | None = None
    cell: str | None = None
    message: str

    @classmethod
    def from_problem(cls, problem: Problem, time: dt.datetime | None = None) -> LogEntry:
        return cls(
            time=time,
            level=problem.level,
            sheet=problem.sheet,
            cell=problem.cell,
            message=problem.message,
        )


class RebalanceResult(Result):
    """What one engine run hands to the writer."""

    drift: tuple[DriftRow, ...] = ()
    trades: tuple[Trade, ...] = ()
    harvest: tuple[HarvestRow, ...] = ()
    realized: tuple[RealizedRow, ...] = ()
    summary: tuple[SummaryItem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    rebalanced: bool = False
    accounts: tuple[AccountRow, ...] = ()

    def summary_value(self, key: str) -> object:
        """A summary figure by its stable name (`estimated_tax`) or its sheet label."""
        for item in self.summary:
            if key in (item.name, item.key):
                return item.value
        raise KeyError(key)
