"""Broker statements merged into the workbook's Accounts, Holdings, TaxLots and Transactions.

A positions file is a snapshot of the accounts it lists: their cash and positions become
what the file says, a position missing from the file is gone. Tax lots come, in this
order, from the file itself (IBKR's LOT rows), from the user's own lots when they still
add up to the position (they may be better than anything a broker exports), or rebuilt
from the buys, sells and splits in the history files (sales relieved first-in,
first-out, the IRS default when no lot was named: Pub. 550, "Identifying the shares").
A positions file older than the fills record-fills wrote for an account shows the account
before those trades: it is not applied (importing the same downloads again after recording
the fills changes nothing). What cannot be known is not invented: shares the history does
not explain become one lot with the broker's remaining basis and no acquisition date, and
the message names the cell to fill in. Accounts not in any file are left as they are.

Importing the same files twice changes nothing: lots get deterministic ids
(SYMBOL-YYYYMMDD), trades are recognised by their reference or their date, account,
symbol, action and shares, and rows keep their place and the user's own columns.

Works on the sheets' raw rows (a fresh workbook without targets does not validate yet,
and import is how it gets filled); a row it cannot read is left alone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..models.brokers import BrokerLot, BrokerStatement, BrokerTransaction
from .records import SHARE_TOL, Record, as_date, as_num, as_symbol, as_text, close_to


@dataclass(frozen=True)
class Current:
    """The workbook's tables as they are: (row number, field values)."""

    accounts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    holdings: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    lots: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    transactions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    sheet: str
    kind: str  # added, changed, removed
    text: str


@dataclass
class SyncResult:
    accounts: list[Record]
    holdings: list[Record]
    lots: list[Record]
    transactions: list[Record]
    changes: list[Change]
    problems: list[Problem]
    mapping: dict[str, str]

    def changed(self, sheet: str) -> bool:
        return any(c.sheet == sheet for c in self.changes)


MASKED = re.compile(r"^(?:\.{3}|X{2,}|\*+)\s?(\d{3,})$", re.IGNORECASE)


def same_number(a: str, b: str) -> bool:
    """`...518` (Schwab's masked number, or `XXX518` in a file name) and `12345518` are
    the same account's number: one masked, the other ending in its digits."""
    if not a or not b:
        return False
    if a == b:
        return True
    for masked, full in ((a, b), (b, a)):
        hit = MASKED.match(masked)
        other = MASKED.match(full)
        if hit and other:
            return hit.group(1) == other.group(1)
        if hit and full.endswith(hit.group(1)) and not MASKED.match(full):
            return True
    return False


def is_number(broker_id: str, broker_name: str) -> bool:
    """Whether a file's account key is the broker's number (`X12345678`, `...518`) rather
    than a name (a generic file's `Joint Taxable`)."""
    return bool(broker_id) and (
        broker_id != broker_name or bool(re.search(r"\d{4}|\d{3}$", broker_id))
    )


def guess_type(name: str) -> str:
    """An account's tax treatment from its name: Roth and HSA are tax-exempt, IRAs and
    employer plans tax-deferred, anything else taxable."""
    text = name.lower()
    if "roth" in text or "hsa" in text or "health savings" in text:
        return "tax_exempt"
    if re.search(r"\b(ira|401|403|457|sep|simple|rollover|keogh|pension|annuity)", text):
        return "tax_deferred"
    return "taxable"


def merge(
    current: Current, statements: Sequence[BrokerStatement], account_map: Mapping[str, str]
) -> SyncResult:
    """The workbook's tables after importing `statements`; see the module's docstring."""
    s = _Merge(current, statements, account_map)
    s.accounts_from_files()
    for broker_id in s.snapshot:
        s.position_snapshot(broker_id)
    s.trades()
    s.unmatched_mappings()
    return SyncResult(
        accounts=s.accounts,
        holdings=s.holdings,
        lots=s.lots,
        transactions=s.transactions,
        changes=s.changes,
        problems=s.problems,
        mapping=s.mapping,
    )


class _Merge:
    def __init__(
        self,
        current: Current,
        statements: Sequence[BrokerStatement],
        account_map: Mapping[str, str],
    ) -> None:
        self.statements = list(statements)
        self.account_map = dict(account_map)
        self.accounts: list[Record] = [(r, dict(v)) for r, v in current.accounts]
        self.holdings: list[Record] = [(r, dict(v)) for r, v in current.holdings]
        self.lots: list[Record] = [(r, dict(v)) for r, v in current.lots]
        self.transactions: list[Record] = [(r, dict(v)) for r, v in current.transactions]
        self.changes: list[Change] = []
        self.problems: list[Problem] = []
        self.mapping: dict[str, str] = {}
        self.used: set[str] = set()  # the --account keys a file account answered to
        self.snapshot: dict[str, BrokerStatement] = {}
        self.taken: set[str] = set()  # LotIds other lots hold (they are unique in a workbook)
        # The latest fill record-fills wrote per account: a positions file older than it
        # shows the account before those trades.
        self.filled: dict[str, dt.date] = {}
        for _, values in self.transactions:
            day = as_date(values.get("date"))
            if day is not None and as_text(values.get("ref")).startswith("fill:"):
                key = as_text(values.get("account")).lower()
                self.filled[key] = max(day, self.filled.get(key, day))
        for st in self.statements:
            self.problems.extend(st.problems)
            for broker_id in st.snapshot_accounts:
                if broker_id in self.snapshot:
                    self.problems.append(
                        Problem(
                            f"account {broker_id} is also in {self.snapshot[broker_id].file}; "
                            "the later file's positions are used",
                            st.file,
                            None,
                            "warning",
                        )
                    )
                self.snapshot[broker_id] = st

    # ------------------------------------------------------------------ accounts
    def _account_row(self, name: str) -> dict[str, Any] | None:
        for _, values in self.accounts:
            if as_text(values.get("account")).lower() == name.lower():
                return values
        return None

    def _wanted(self, broker_id: str, broker_name: str) -> str | None:
        """The workbook account `--account` names for this file account: by its number,
        or by the broker's name for it (`Joint WROS=Joint Taxable`), or `*` for a file
        that names none."""
        if not broker_id:
            if "" in self.account_map:
                self.used.add("")
            return self.account_map.get("")
        by_key = {k.lower(): v for k, v in self.account_map.items() if k}
        for key in (broker_id.lower(), broker_name.lower() if broker_name else None):
            if key and key in by_key:
                self.used.add(key)
                return by_key[key]
        return None

    def unmatched_mappings(self) -> None:
        """An `--account` that names no account of the files (digits without the `...`
        Schwab shows, a typo) was ignored without a word: say so, with what the files
        name."""
        named = sorted({k for k in self.mapping if k})
        for key, name in self.account_map.items():
            if key.lower() in self.used:
                continue
            shown = key or "*"
            self.problems.append(
                Problem(
                    f"--account {shown}={name} matched no account in the files"
                    + (f" (they name {', '.join(named)})" if named else ""),
                    None,
                    None,
                    "warning",
                )
            )

    def _remembered(self, broker_id: str, broker_name: str, broker: str) -> dict[str, Any] | None:
        """The account row that remembers this file account: by its number (a masked
        `...518` matches the full number the user typed over it, and back), else by the
        broker's name for it. Only rows of the same broker, or of none yet."""

        def same_broker(values: Mapping[str, Any]) -> bool:
            mine = as_text(values.get("broker")).lower()
            return not mine or broker in ("", "generic") or mine == broker

        rows = [v for _, v in self.accounts if same_broker(v)]
        numbered = is_number(broker_id, broker_name)
        if numbered:
            for values in rows:
                if as_text(values.get("broker_account")) == broker_id:
                    return values
            alike = [v for v in rows if same_number(as_text(v.get("broker_account")), broker_id)]
            if len(alike) == 1:
                return alike[0]
        name = (broker_name or broker_id).lower()
        if name:
            for values in rows:
                if as_text(values.get("broker_name")).lower() == name:
                    return values
        if broker_id and not numbered:  # a name kept as BrokerAccount by an older version
            for values in rows:
                if as_text(values.get("broker_account")) == broker_id:
                    return values
        return None

    def account_for(
        self, broker_id: str, names: Mapping[str, str], file: str, broker: str = ""
    ) -> str | None:
        if broker_id in self.mapping:
            return self.mapping[broker_id]
        broker_name = names.get(broker_id, "")
        wanted = self._wanted(broker_id, broker_name)
        row = None
        if wanted is None:
            row = self._remembered(broker_id, broker_name, broker)
            if row is None and broker_id:
                row = self._account_row(broker_id) or (
                    self._account_row(broker_name)
                    if broker_name and broker_name != broker_id
                    else None
                )
        else:
            row = self._account_row(wanted)
        if row is None and not broker_id and wanted is None:
            self.problems.append(
                Problem(
                    "the file does not say which account it belongs to: give it with "
                    "--account '*=<account name>'",
                    file,
                )
            )
            return None
        numbered = is_number(broker_id, broker_name)
        added = row is None
        if row is None:
            name = wanted or (
                f"{broker_name} {broker_id}"
                if broker_name and broker_name != broker_id
                else broker_id
            )
            kind = guess_type(f"{broker_name} {name}")
            row = {"account": name, "type": kind, "cash": 0.0}
            self.accounts.append((None, row))
            self.changes.append(
                Change(
                    "Accounts",
                    "added",
                    f"{name} ({kind}, broker account {broker_id or '-'}"
                    + (f" at {broker}" if broker and broker != "generic" else "")
                    + (
                        f", named {broker_name!r} there"
                        if broker_name and broker_name not in (name, broker_id)
                        else ""
                    )
                    + ")",
                )
            )
            self.problems.append(
                Problem(
                    f"new account {name!r}: Type {kind} guessed from its name; check it on the "
                    "Accounts sheet",
                    file,
                    None,
                    "warning",
                )
            )
        self._remember(
            row, broker_id if numbered else "", broker_name or broker_id, broker, quiet=added
        )
        self.mapping[broker_id] = as_text(row["account"])
        return self.mapping[broker_id]

    def _remember(
        self, row: dict[str, Any], number: str, broker_name: str, broker: str, quiet: bool
    ) -> None:
        """What the next import needs to find this account without `--account`: the
        broker's number, the broker, and the broker's name for it; never over what the
        row already says (the user may have typed the full number over a masked one)."""
        account = as_text(row["account"])
        remembered = []
        if number and not as_text(row.get("broker_account")):
            row["broker_account"] = number
            remembered.append(f"BrokerAccount {number}")
        if broker and broker != "generic" and not as_text(row.get("broker")):
            row["broker"] = broker
            remembered.append(f"Broker {broker}")
        if (
            broker_name
            and broker_name.lower() != account.lower()
            and not as_text(row.get("broker_name"))
            and broker_name != as_text(row.get("broker_account"))
        ):
            row["broker_name"] = broker_name
            remembered.append(f"BrokerName {broker_name}")
        if remembered and not quiet:  # a new account's own line says it all
            self.changes.append(
                Change("Accounts", "changed", f"{account}: {', '.join(remembered)} remembered")
            )

    def accounts_from_files(self) -> None:
        for st in self.statements:
            ids = list(
                dict.fromkeys([*st.snapshot_accounts, *(t.account for t in st.transactions)])
            )
            for broker_id in ids:
                self.account_for(broker_id, st.account_names, st.file, st.broker)

    def _taxable(self, name: str) -> bool:
        row = self._account_row(name)
        return (
            row is not None
            and (as_text(row.get("type")).lower().replace(" ", "_") or "taxable") == "taxable"
        )

    # ----------------------------------------------------------------- positions
    def position_snapshot(self, broker_id: str) -> None:
        st = self.snapshot[broker_id]
        name = self.mapping.get(broker_id)
        if name is None:
            return
        row = self._account_row(name)
        assert row is not None
        filled = self.filled.get(name.lower())
        if st.as_of is not None and filled is not None and st.as_of < filled:
            self.problems.append(
                Problem(
                    f"{name}: the file's positions are as of {st.as_of}, before the fills "
                    f"recorded on {filled}; they are left as record-fills made them (import a "
                    "download made after the trades to check them)",
                    st.file,
                    None,
                    "warning",
                )
            )
            return
        cash = round(st.cash.get(broker_id, 0.0), 2)
        if broker_id in st.cash and not close_to(as_num(row.get("cash")), cash):
            self.changes.append(
                Change(
                    "Accounts",
                    "changed",
                    f"{name}: cash {as_num(row.get('cash')) or 0:,.2f} → {cash:,.2f}",
                )
            )
            row["cash"] = cash
        positions = {p.symbol: p for p in st.positions if p.account == broker_id}
        file_lots: dict[str, list[BrokerLot]] = defaultdict(list)
        for lot in st.lots:
            if lot.account == broker_id:
                file_lots[lot.symbol].append(lot)
        self._holdings(name, positions, st.file)
        taxable = self._taxable(name)
        history = self._history(broker_id)
        kept: list[Record] = []
        by_symbol: dict[str, list[Record]] = defaultdict(list)
        for record in self.lots:
            if as_text(record[1].get("account")).lower() == name.lower():
                by_symbol[as_symbol(record[1].get("symbol"))].append(record)
            else:
                kept.append(record)
        self.taken = {as_text(v.get("lot_id")) for _, v in kept}
        for symbol, records in by_symbol.items():
            if symbol not in positions:
                for _, values in records:
                    self.changes.append(
                        Change(
                            "TaxLots",
                            "removed",
                            f"{name} {symbol} lot {as_text(values.get('lot_id'))}",
                        )
                    )
        for symbol, position in positions.items():
            old = by_symbol.get(symbol, [])
            self.taken |= {as_text(v.get("lot_id")) for _, v in kept}
            kept.extend(
                self._lots_for(
                    name,
                    symbol,
                    position,
                    file_lots.get(symbol),
                    old,
                    history.get(symbol),
                    taxable,
                    st.file,
                )
            )
        self.lots = kept
        if position_cusips := [p for p in positions.values() if p.cusip and p.symbol == p.cusip]:
            for p in position_cusips:
                self.problems.append(
                    Problem(
                        f"{p.where}: {p.symbol} is a CUSIP without a ticker "
                        f"({p.description or 'no description'}); imported under the CUSIP: give it "
                        "a price on the Prices sheet "
                        "(Source manual), or import a file that names its ticker",
                        st.file,
                        None,
                        "warning",
                    )
                )

    def _holdings(self, name: str, positions: Mapping[str, Any], file: str) -> None:
        out: list[Record] = []
        seen: set[str] = set()
        for origin, values in self.holdings:
            if as_text(values.get("account")).lower() != name.lower():
                out.append((origin, values))
                continue
            symbol = as_symbol(values.get("symbol"))
            position = positions.get(symbol)
            if position is None or symbol in seen:
                self.changes.append(
                    Change(
                        "Holdings",
                        "removed",
                        f"{name} {symbol} ({as_num(values.get('shares')) or 0:g} sh)",
                    )
                )
                continue
            seen.add(symbol)
            old = as_num(values.get("shares"))
            if not close_to(old, position.shares, SHARE_TOL):
                self.changes.append(
                    Change(
                        "Holdings",
                        "changed",
                        f"{name} {symbol}: {old or 0:g} → {position.shares:g} sh",
                    )
                )
                values["shares"] = position.shares
            out.append((origin, values))
        for symbol, position in positions.items():
            if symbol not in seen:
                out.append((None, {"account": name, "symbol": symbol, "shares": position.shares}))
                self.changes.append(
                    Change("Holdings", "added", f"{name} {symbol} {position.shares:g} sh")
                )
        self.holdings = out

    def _lots_for(
        self,
        name: str,
        symbol: str,
        position: Any,
        given: list[BrokerLot] | None,
        old: list[Record],
        history: list[BrokerLot] | None,
        taxable: bool,
        file: str,
    ) -> list[Record]:
        old_shares = sum(as_num(v.get("shares")) or 0.0 for _, v in old)
        if given:
            wanted = given
        elif old and abs(old_shares - position.shares) <= SHARE_TOL * max(1.0, position.shares):
            return old  # the user's lots still add up: kept as they are
        elif history is not None and abs(sum(x.shares for x in history) - position.shares) <= (
            SHARE_TOL * max(1.0, position.shares)
        ):
            wanted = history
        elif not taxable:
            for _, values in old:
                self.changes.append(
                    Change(
                        "TaxLots",
                        "removed",
                        f"{name} {symbol} lot {as_text(values.get('lot_id'))} "
                        "(no longer adds up; not needed in a tax-advantaged account)",
                    )
                )
            return []
        elif old and old_shares > position.shares:
            self.problems.append(
                Problem(
                    f"{position.where}: {name} {symbol}: the lots on TaxLots hold "
                    f"{old_shares:g} shares, the broker's position {position.shares:g}: some "
                    "were sold; the lots are left as they are: relieve the sold ones on TaxLots, "
                    "import the realized gain/loss file, or record the sale with record-fills",
                    file,
                    None,
                    "warning",
                )
            )
            return old
        elif old:
            basis = (
                position.cost_basis - sum(as_num(v.get("cost_basis")) or 0.0 for _, v in old)
                if position.cost_basis is not None
                else None
            )
            extra = self._unknown(name, symbol, position, position.shares - old_shares, basis, file)
            return [*old, *self._replace_lots(name, symbol, [extra], [])]
        else:
            wanted = list(history or [])
            rest = position.shares - sum(x.shares for x in wanted)
            if rest < -SHARE_TOL:
                self.problems.append(
                    Problem(
                        f"{position.where}: {name} {symbol}: the history's lots hold "
                        f"{sum(x.shares for x in wanted):g} shares, the broker's position "
                        f"{position.shares:g}; lots rebuilt from the history are not used",
                        file,
                        None,
                        "warning",
                    )
                )
                wanted, rest = [], position.shares
            basis = None
            if position.cost_basis is not None:
                basis = position.cost_basis - sum(x.cost_basis for x in wanted)
            wanted = [*wanted, self._unknown(name, symbol, position, rest, basis, file)]
        return self._replace_lots(name, symbol, wanted, old)

    def _unknown(
        self, name: str, symbol: str, position: Any, shares: float, basis: float | None, file: str
    ) -> BrokerLot:
        """Shares no file places in a lot: one lot with what basis is left and no date, and
        a message saying so (never an invented date)."""
        lot = BrokerLot(
            account=name,
            symbol=symbol,
            shares=shares,
            cost_basis=round(basis, 2) if basis is not None and basis >= 0 else 0.0,
            where=position.where,
        )
        self.problems.append(
            Problem(
                f"{position.where}: {name} {symbol}: {shares:g} of {position.shares:g} shares "
                f"have no lot in the files (basis {lot.cost_basis:,.2f}"
                + ("" if basis is not None else ", unknown: the file has no cost basis")
                + "); written as one lot without an acquisition date: fill in its Acquired on "
                "TaxLots (from the broker's lot details), or import a file with lots or the "
                "full buy history",
                file,
                None,
                "warning",
            )
        )
        return lot

    def _replace_lots(
        self, name: str, symbol: str, wanted: list[BrokerLot], old: list[Record]
    ) -> list[Record]:
        ids: dict[str, int] = {}
        by_id = {as_text(v.get("lot_id")): (r, v) for r, v in old}
        used: set[str] = set()
        out: list[Record] = []
        for lot in sorted(wanted, key=lambda x: (x.acquired or dt.date.max, x.shares)):
            base = f"{symbol}-{lot.acquired:%Y%m%d}" if lot.acquired else f"{symbol}-NODATE"
            # Unique in the workbook: another account's lot of the same fund and day
            # keeps its id, this one takes the next (the same on every import).
            n = ids.get(base, 0)
            while True:
                n += 1
                lot_id = base if n == 1 else f"{base}-{n}"
                if lot_id not in self.taken:
                    break
            ids[base] = n
            values = {
                "account": name,
                "symbol": symbol,
                "lot_id": lot_id,
                "acquired": lot.acquired,
                "shares": round(lot.shares, 6),
                "cost_basis": round(lot.cost_basis, 2),
            }
            if lot_id in by_id:
                origin, before = by_id[lot_id]
                used.add(lot_id)
                if not (
                    close_to(as_num(before.get("shares")), values["shares"], SHARE_TOL)
                    and close_to(as_num(before.get("cost_basis")), values["cost_basis"])
                    and as_date(before.get("acquired")) == lot.acquired
                ):
                    self.changes.append(
                        Change(
                            "TaxLots",
                            "changed",
                            f"{name} {symbol} lot {lot_id}: {values['shares']:g} "
                            f"sh, basis {values['cost_basis']:,.2f}",
                        )
                    )
                    before.update(values)
                out.append((origin, before))
            else:
                out.append((None, values))
                self.changes.append(
                    Change(
                        "TaxLots",
                        "added",
                        f"{name} {symbol} lot {lot_id}: {values['shares']:g} sh "
                        f"acquired {lot.acquired or 'unknown'}, basis "
                        f"{values['cost_basis']:,.2f}",
                    )
                )
        for lot_id in by_id:
            if lot_id not in used:
                self.changes.append(Change("TaxLots", "removed", f"{name} {symbol} lot {lot_id}"))
        return out

    # ------------------------------------------------------------------- history
    def _history(self, broker_id: str) -> dict[str, list[BrokerLot]]:
        """Open lots per symbol rebuilt from every file's trades for the account (FIFO);
        a history file that names no account counts for the account it was mapped to."""
        trades = sorted(
            (
                t
                for st in self.statements
                for t in st.transactions
                if self.mapping.get(t.account) == self.mapping.get(broker_id) and not t.closed_lot
            ),
            key=lambda t: (t.date, t.action != "BUY"),
        )
        lots: dict[str, list[BrokerLot]] = defaultdict(list)
        for t in trades:
            held = lots[t.symbol]
            if t.action in ("BUY", "TRANSFER_IN"):
                cost = t.amount if t.amount is not None else (t.price or 0.0) * t.shares
                held.append(
                    BrokerLot(
                        account=broker_id,
                        symbol=t.symbol,
                        shares=t.shares,
                        cost_basis=cost,
                        acquired=t.acquired or t.date,
                        where=t.where,
                    )
                )
            elif t.action in ("SELL", "TRANSFER_OUT"):
                left = t.shares
                while left > SHARE_TOL and held:
                    first = held[0]
                    take = min(first.shares, left)
                    keep = first.shares - take
                    if keep <= SHARE_TOL:
                        held.pop(0)
                    else:
                        held[0] = first.model_copy(
                            update={
                                "shares": keep,
                                "cost_basis": first.cost_basis * keep / first.shares,
                            }
                        )
                    left -= take
            elif t.action == "SPLIT":
                total = sum(x.shares for x in held)
                ratio = t.ratio or ((total + t.shares) / total if total else 1.0)
                lots[t.symbol] = [x.model_copy(update={"shares": x.shares * ratio}) for x in held]
        return {sym: held for sym, held in lots.items()} if trades else {}

    def trades(self) -> None:
        """History and realized rows onto Transactions, each once."""
        existing_refs = {as_text(v.get("ref")) for _, v in self.transactions if v.get("ref")}

        def key(values: Mapping[str, Any]) -> tuple[Any, ...]:
            return (
                as_date(values.get("date")),
                as_text(values.get("account")).lower(),
                as_symbol(values.get("symbol")),
                as_text(values.get("action")).upper(),
                round(as_num(values.get("shares")) or 0.0, 6),
                as_date(values.get("acquired")),
            )

        keys = {key(v) for _, v in self.transactions}
        closed = {
            (t.date, (self.mapping.get(t.account) or "").lower(), t.symbol)
            for st in self.statements
            for t in st.transactions
            if t.closed_lot
        }
        # A realized file's closed lots replace the history's plain SELL of the same day.
        kept: list[Record] = []
        for origin, values in self.transactions:
            day = (
                as_date(values.get("date")),
                as_text(values.get("account")).lower(),
                as_symbol(values.get("symbol")),
            )
            if (
                as_text(values.get("action")).upper() == "SELL"
                and values.get("acquired") in (None, "")
                and day in closed
            ):
                self.changes.append(
                    Change(
                        "Transactions",
                        "removed",
                        f"{day[0]} SELL {day[2]} (replaced by its closed lots)",
                    )
                )
                continue
            kept.append((origin, values))
        self.transactions = kept
        for st in self.statements:
            for t in st.transactions:
                row = self._transaction_row(t)
                if row is None:
                    continue
                if row.get("ref") and row["ref"] in existing_refs:
                    continue
                day = (t.date, row["account"].lower(), t.symbol)
                if t.action == "SELL" and not t.closed_lot and day in closed:
                    continue
                if key(row) in keys:
                    continue
                keys.add(key(row))
                self.transactions.append((None, row))
                self.changes.append(
                    Change(
                        "Transactions",
                        "added",
                        f"{t.date} {row['account']} {t.action} {t.shares:g} "
                        f"{t.symbol}" + (" (closed lot)" if t.closed_lot else ""),
                    )
                )

    def _transaction_row(self, t: BrokerTransaction) -> dict[str, Any] | None:
        account = self.mapping.get(t.account)
        if account is None or t.action not in ("BUY", "SELL") or t.shares <= 0:
            return None
        price = (
            t.price
            if t.price is not None
            else (t.amount / t.shares if t.amount is not None else None)
        )
        return {
            "date": t.date,
            "account": account,
            "symbol": t.symbol,
            "action": t.action,
            "shares": t.shares,
            "price": round(price, 6) if price is not None else None,
            "realized_gain": round(t.realized_gain, 2) if t.realized_gain is not None else None,
            "acquired": t.acquired,
            "cost_basis": round(t.cost_basis, 2) if t.cost_basis is not None else None,
            "term": t.term,
            "ref": t.ref,
        }
