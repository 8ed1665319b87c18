"""What a broker's file says, before it meets the workbook (brokers reads, engine.sync merges).

Every item keeps `where` ("Positions.csv line 12"), so a reconciliation message can send
the user to the line of the file that caused it. Accounts are the broker's ids (`...1234`,
`X12345678`, `U1234567`); the workbook's names come from the account mapping.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import Problem


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    account: str
    where: str = ""


class BrokerPosition(_Item):
    """A security position as the broker reports it (one aggregate basis, if any)."""

    symbol: str
    description: str = ""
    shares: float
    price: float | None = None
    value: float | None = None
    cost_basis: float | None = None
    cusip: str | None = None
    security_type: str | None = None


class BrokerLot(_Item):
    """An open tax lot the broker lists (IBKR's LOT rows), or one rebuilt from history."""

    symbol: str
    shares: float
    cost_basis: float
    acquired: dt.date | None = None
    lot_id: str | None = None


TransactionKind = Literal["BUY", "SELL", "SPLIT", "TRANSFER_IN", "TRANSFER_OUT"]


class BrokerTransaction(_Item):
    """A trade from a history file, or a closed lot from a realized gain/loss file.

    `amount` is the money paid (BUY, fees included) or received (SELL, fees taken off);
    a SPLIT's `ratio` is new shares per old share. A realized-file row has `acquired`,
    `cost_basis` and `realized_gain`, and `closed_lot` set."""

    date: dt.date
    action: TransactionKind
    symbol: str
    shares: float = 0.0
    price: float | None = None
    amount: float | None = None
    ratio: float | None = None
    acquired: dt.date | None = None
    cost_basis: float | None = None
    realized_gain: float | None = None
    term: Literal["ST", "LT"] | None = None
    closed_lot: bool = False
    ref: str | None = None
    # A dividend reinvested (Fidelity's REINVESTMENT, Schwab's Reinvest Shares): shares
    # bought, but no order's fill, so record-fills leaves it to import.
    reinvested: bool = False


class BrokerStatement(BaseModel):
    """One file, read: the broker's name, positions per account, cash, lots, history."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    broker: str
    file: str
    as_of: dt.date | None = None
    # Accounts whose positions the file lists in full (a snapshot): positions missing
    # from the file are gone from those accounts. History-only files list none.
    snapshot_accounts: list[str] = Field(default_factory=list)
    account_names: dict[str, str] = Field(default_factory=dict)
    positions: list[BrokerPosition] = Field(default_factory=list)
    cash: dict[str, float] = Field(default_factory=dict)
    lots: list[BrokerLot] = Field(default_factory=list)
    # Accounts whose lots the file lists in full (IBKR with LOT rows).
    lot_accounts: list[str] = Field(default_factory=list)
    transactions: list[BrokerTransaction] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
