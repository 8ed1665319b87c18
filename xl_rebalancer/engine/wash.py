"""Wash sales across every account of the household (IRC §1091, IRS Pub. 550).

A loss on a sale is disallowed when substantially identical shares are bought within
`days` before or after it, in *any* account (a purchase in an IRA washes a loss in a
taxable account, Rev. Rul. 2008-5). The disallowed loss moves into the basis of the
replacement shares, and their holding period includes the sold shares' (IRC §1223(3));
replacement shares are matched in order of acquisition, each used once, loss sales in
order of sale and, on one day, in the order the sold shares were acquired; when
fewer shares are bought back than were sold only that fraction of the loss is
disallowed (Treas. Reg. §1.1091-1(b), (c), (e)).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..models.inputs import Portfolio, Transaction


@dataclass(frozen=True)
class Purchase:
    account: str
    symbol: str
    date: dt.date
    shares: float
    source: str  # where it came from, for the BlockedBy column
    lot_key: tuple[str, str] | None = None  # (account, lot id) when it is a tax lot

    def describe(self) -> str:
        return f"BUY {self.shares:g} {self.symbol} in {self.account} on {self.date} ({self.source})"


@dataclass(frozen=True)
class LossSale:
    account: str
    symbol: str
    date: dt.date
    shares: float
    loss: float | None  # positive amount lost; None when the sheet does not say (cautious)
    source: str
    holding_start: dt.date | None = None
    lot_key: tuple[str, str] | None = None  # (account, lot id) of the lot sold, if known
    acquired: dt.date | None = None  # when the sold shares were bought, if known
    row: int | None = None  # its Transactions row, so a warning can name the cell
    matched: bool = False  # its gain already carries the broker's wash-sale adjustment

    def own(self, purchase: Purchase) -> bool:
        """Whether `purchase` bought the very shares sold: the sold lot, or for a recorded
        sale a purchase of the fund in its account on its Acquired day (a lot sold in
        part is not its own replacement, Rev. Rul. 56-602)."""
        if self.lot_key is not None:
            return purchase.lot_key == self.lot_key
        return (
            self.acquired is not None
            and purchase.date == self.acquired
            and (purchase.account, purchase.symbol) == (self.account, self.symbol)
        )

    def describe(self) -> str:
        amount = f"a loss of {self.loss:,.2f}" if self.loss is not None else "a possible loss"
        return (
            f"SELL {self.shares:g} {self.symbol} in {self.account} on {self.date} at "
            f"{amount} ({self.source})"
        )


@dataclass(frozen=True)
class WashMatch:
    """Replacement shares matched to a loss sale, with the loss moved into their basis."""

    sale: LossSale
    purchase: Purchase
    shares: float
    disallowed_loss: float
    holding_start: dt.date | None  # the replacement's, with the sold shares' period tacked on


def identical_sets(portfolio: Portfolio) -> dict[str, frozenset[str]]:
    """Each symbol's substantially identical set (itself included), from Targets'
    IdenticalTo and the Identical sheet (which applies whatever the targets are).

    The relation is made symmetric and transitive: if VOO lists IVV and IVV lists SPY,
    all three are one set.
    """
    parent: dict[str, str] = {}

    def find(symbol: str) -> str:
        while parent.setdefault(symbol, symbol) != symbol:
            parent[symbol] = parent[parent[symbol]]
            symbol = parent[symbol]
        return symbol

    pairs = [(t.symbol, t.identical_to) for t in portfolio.targets if t.symbol]
    pairs += [(row.symbol, row.identical_to) for row in portfolio.identical]
    for symbol, twins in pairs:
        for twin in twins or ():
            parent[find(twin)] = find(symbol)
    groups: dict[str, set[str]] = {}
    for symbol in list(parent):
        groups.setdefault(find(symbol), set()).add(symbol)
    return {s: frozenset(groups[find(s)]) for s in parent}


def same_security(a: str, b: str, identical: dict[str, frozenset[str]]) -> bool:
    return a == b or b in identical.get(a, frozenset())


def past_purchases(portfolio: Portfolio) -> list[Purchase]:
    """Purchases on record: every tax lot's acquisition and the Transactions BUY rows
    that are not a lot's own.

    `record-fills` and `import` write each buy twice, as the lot and as its BUY row; a
    BUY on the day a lot of the same fund in the same account was acquired is that
    lot's purchase, so it is counted once, as the lot, and a sale of the lot does not
    wash itself (the shares sold are never their own replacement, Rev. Rul. 56-602).
    Inherited lots are not purchases at all (§1091(a) speaks of shares "acquired by
    purchase"; Reg. §1.1091-1(a)).
    """
    lot_days = {(lot.account, lot.symbol, lot.acquired) for lot in portfolio.lots}
    out = [
        Purchase(t.account, t.symbol, t.date, t.shares, f"Transactions row {t.row}")
        for t in portfolio.transactions
        if t.action == "BUY" and (t.account, t.symbol, t.date) not in lot_days
    ]
    out += [
        Purchase(
            lot.account,
            lot.symbol,
            lot.acquired,
            lot.shares,
            f"TaxLots row {lot.row}, lot {lot.lot_id}" if lot.row else f"lot {lot.lot_id}",
            (lot.account, lot.lot_id),
        )
        for lot in portfolio.lots
        if not lot.inherited
    ]
    return out


def broker_adjustment(t: Transaction) -> float:
    """The wash-sale adjustment a recorded sale's RealizedGain already carries: a broker's
    realized gain/loss report gives the gain after its disallowed loss, so the gain
    exceeds proceeds less basis by that amount (a gain below it is short by the selling
    costs instead). Such a sale was matched by the broker and is not matched again."""
    if t.price is None or t.cost_basis is None or t.realized_gain is None:
        return 0.0
    excess = round(t.realized_gain - (t.shares * t.price - t.cost_basis), 2)
    return excess if excess > 0.005 else 0.0


def past_loss_sales(portfolio: Portfolio) -> tuple[list[LossSale], list[str]]:
    """Loss sales on record in taxable accounts, and notes for sales of unknown gain.

    A SELL without RealizedGain is read cautiously as a possible loss.
    """
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    sales, notes = [], []
    for t in portfolio.transactions:
        if t.action != "SELL" or t.account not in taxable:
            continue
        if t.realized_gain is None:
            notes.append(
                f"Transactions row {t.row}: SELL {t.symbol} has no RealizedGain; "
                "treated as a possible loss for wash-sale checks"
            )
            sales.append(
                LossSale(
                    t.account,
                    t.symbol,
                    t.date,
                    t.shares,
                    None,
                    f"Transactions row {t.row}",
                    acquired=t.acquired,
                    row=t.row,
                )
            )
        elif t.realized_gain < 0:
            sales.append(
                LossSale(
                    t.account,
                    t.symbol,
                    t.date,
                    t.shares,
                    -t.realized_gain,
                    f"Transactions row {t.row}",
                    holding_start=t.acquired,
                    acquired=t.acquired,
                    row=t.row,
                    matched=broker_adjustment(t) > 0,
                )
            )
    return sales, notes


def in_window(day: dt.date, center: dt.date, days: int) -> bool:
    return abs((day - center).days) <= days


@dataclass(frozen=True)
class HouseholdActivity:
    """What the household's other workbooks (a spouse's) bought and sold at a loss:
    their purchases on record and planned, and their loss sales on record and planned.

    IRS Pub. 550, "Wash Sales": a loss is disallowed when "your spouse" buys
    substantially identical shares within the window, so a batch gives each workbook of
    a household (Settings `household`) the others' activity; the run then blocks a loss
    sale a spouse's purchase would wash and a buy that would wash a spouse's loss sale,
    as it does for the workbook's own. The spouse's sales carry no Transactions row of
    this workbook (`row` None), so nothing is written into this workbook's cells for
    them."""

    purchases: tuple[Purchase, ...] = ()
    loss_sales: tuple[LossSale, ...] = ()


class PurchaseIndex:
    """Purchases by symbol and date, so checking 20,000 lots does not scan every purchase.

    `loss_sales_elsewhere` rides along: the household's other workbooks' loss sales
    (HouseholdActivity), which every check a purchase goes through must see too."""

    def __init__(
        self, purchases: Iterable[Purchase], loss_sales_elsewhere: Iterable[LossSale] = ()
    ) -> None:
        self.loss_sales_elsewhere = list(loss_sales_elsewhere)
        by_symbol: dict[str, list[Purchase]] = {}
        for purchase in purchases:
            by_symbol.setdefault(purchase.symbol, []).append(purchase)
        self.by_symbol = {s: sorted(ps, key=lambda p: p.date) for s, ps in by_symbol.items()}
        self.dates = {s: [p.date for p in ps] for s, ps in self.by_symbol.items()}
        # Every lot of a symbol is checked against the same sale date: remember answers.
        self._near: dict[tuple[str, dt.date, int], list[Purchase]] = {}
        self._by_lot: dict[tuple[str, str], list[Purchase]] = {}
        for ps in self.by_symbol.values():
            for purchase in ps:
                if purchase.lot_key is not None:
                    self._by_lot.setdefault(purchase.lot_key, []).append(purchase)

    def own(self, lot_key: tuple[str, str]) -> list[Purchase]:
        """The purchases that are this lot's own acquisition."""
        return self._by_lot.get(lot_key, [])

    def near(
        self, symbol: str, center: dt.date, days: int, identical: dict[str, frozenset[str]]
    ) -> list[Purchase]:
        """Purchases of the symbol or its twins within `days` of `center`."""
        key = (symbol, center, days)
        if key in self._near:
            return self._near[key]
        lo, hi = center - dt.timedelta(days=days), center + dt.timedelta(days=days)
        out = []
        for twin in sorted(identical.get(symbol, frozenset()) | {symbol}):
            dates = self.dates.get(twin, [])
            start, end = bisect.bisect_left(dates, lo), bisect.bisect_right(dates, hi)
            out.extend(self.by_symbol.get(twin, [])[start:end])
        self._near[key] = out
        return out


def sale_blockers(
    symbol: str,
    sale_date: dt.date,
    purchases: Iterable[Purchase] | PurchaseIndex,
    days: int,
    identical: dict[str, frozenset[str]],
    own_lot: tuple[str, str] | None = None,
    limit: int | None = None,
) -> list[Purchase]:
    """Purchases that would wash a loss sale of `symbol` on `sale_date`, the first
    `limit` of them when told (in date order with an index).

    The sold lot's own purchase is not a replacement for itself. A run asks this for
    every loss lot and needs only to know whether one blocker exists (and to name it):
    without a limit, a position of n lots bought within the window made n lists of n,
    and 20,000 such lots took 79 s.
    """
    if isinstance(purchases, PurchaseIndex):
        purchases = purchases.near(symbol, sale_date, days, identical)
    out = []
    for p in purchases:
        if (
            same_security(symbol, p.symbol, identical)
            and in_window(p.date, sale_date, days)
            and not (own_lot is not None and p.lot_key == own_lot)
        ):
            out.append(p)
            if limit is not None and len(out) >= limit:
                break
    return out


def count_sale_blockers(
    symbol: str,
    sale_date: dt.date,
    index: PurchaseIndex,
    days: int,
    identical: dict[str, frozenset[str]],
    own_lot: tuple[str, str] | None = None,
) -> int:
    """How many purchases sale_blockers would list, without listing them: the window's
    purchases (the index's answer is shared by every lot of the symbol) less the lot's
    own purchase when it falls inside the window."""
    near = index.near(symbol, sale_date, days, identical)
    if own_lot is None:
        return len(near)
    own = [
        p
        for p in index.own(own_lot)
        if same_security(symbol, p.symbol, identical) and in_window(p.date, sale_date, days)
    ]
    return len(near) - len(own)


def buy_blockers(
    symbol: str,
    buy_date: dt.date,
    loss_sales: Iterable[LossSale],
    days: int,
    identical: dict[str, frozenset[str]],
) -> list[LossSale]:
    """Loss sales that a purchase of `symbol` on `buy_date` would wash."""
    return [
        s
        for s in loss_sales
        if same_security(symbol, s.symbol, identical) and in_window(s.date, buy_date, days)
    ]


def tacked_holding_start(sale: LossSale, purchase: Purchase) -> dt.date | None:
    """The replacement's holding date: its purchase date less the days the sold shares
    were held (IRC §1223(3): its holding period "includes" theirs).

    This is the tacking method brokers' cost-basis systems use (Scottrade's worked
    example: bought 1/12/2013, sold at a loss 1/20/2013, replaced 2/2/2013: holding date
    1/25/2013, long-term from 1/26/2014). The days between the sale and the replacement
    do not count; giving the replacement the original acquisition date would.
    """
    if sale.holding_start is None:
        return None
    return purchase.date - (sale.date - sale.holding_start)


def match_wash_sales(
    sales: Sequence[LossSale],
    purchases: Sequence[Purchase],
    days: int,
    identical: dict[str, frozenset[str]] | None = None,
) -> list[WashMatch]:
    """Allocate disallowed losses to replacement shares, as §1.1091-1 does.

    Sales are taken in date order and, within a day, in the order the sold shares were
    acquired (Reg. §1.1091-1(b), (c): acquisitions are matched "in accordance with the
    order of acquisition" of the stock sold; the lot id's text has no say); each takes
    replacement shares in order of acquisition within its window, each share used once. The disallowed part of a
    sale's loss is loss × (matched shares / sold shares), spread over the matched
    purchases pro rata to their shares. A lot is never the replacement for its own sale.
    """
    identical = identical or {}
    left = {id(p): p.shares for p in purchases}
    ordered = sorted(purchases, key=lambda p: (p.date, p.source))
    out: list[WashMatch] = []
    for sale in sorted(sales, key=lambda s: (s.date, s.acquired or s.date, s.source)):
        if sale.loss is None or sale.loss <= 0 or sale.shares <= 0:
            continue
        need = sale.shares
        for purchase in ordered:
            if need <= 1e-12:
                break
            if (
                left[id(purchase)] <= 1e-12
                or sale.own(purchase)
                or not same_security(sale.symbol, purchase.symbol, identical)
                or not in_window(purchase.date, sale.date, days)
            ):
                continue
            take = min(need, left[id(purchase)])
            left[id(purchase)] -= take
            need -= take
            out.append(
                WashMatch(
                    sale,
                    purchase,
                    take,
                    round(sale.loss * take / sale.shares, 2),
                    tacked_holding_start(sale, purchase),
                )
            )
    return out


def wash_check(
    portfolio: Portfolio,
    symbol: str,
    day: dt.date,
    days: int,
    side: Literal["sell", "buy", "both"] = "both",
    own_lot: tuple[str, str] | None = None,
) -> list[str]:
    """What on record would make a trade of `symbol` on `day` a wash sale, by the rules
    the rebalance and the harvest apply: for a sale at a loss, purchases of it or a
    substantially identical fund in any account within the window (the sold lot's own
    purchase aside); for a purchase, loss sales in taxable accounts within the window.
    The worksheet function asks this, so a cell and a run never disagree."""
    identical = identical_sets(portfolio)
    found: list[str] = []
    if side in {"sell", "both"}:
        index = PurchaseIndex(past_purchases(portfolio))  # the runs' order of blockers
        blockers = sale_blockers(symbol, day, index, days, identical, own_lot)
        found += [p.describe() for p in blockers]
    if side in {"buy", "both"}:
        sales, _ = past_loss_sales(portfolio)
        found += [s.describe() for s in buy_blockers(symbol, day, sales, days, identical)]
    return found


def recorded_washes(
    portfolio: Portfolio, purchases: Iterable[Purchase] | None = None
) -> list[WashMatch]:
    """Recorded loss sales washed by recorded purchases (Transactions rows and tax lots),
    both before the run: their disallowed loss is out of the year's netting and is
    Form 8949's code W adjustment. A sale whose gain already carries a broker's
    adjustment is left as the broker matched it."""
    sales = [s for s in past_loss_sales(portfolio)[0] if not s.matched and s.loss]
    if not sales:
        return []
    identical = identical_sets(portfolio)
    # Only purchases of a fund sold at a loss can match: 20,000 lots need not be sorted.
    wanted = {t for s in sales for t in identical.get(s.symbol, frozenset({s.symbol}))}
    wanted |= {s.symbol for s in sales}
    pool = past_purchases(portfolio) if purchases is None else purchases
    return match_wash_sales(
        sales,
        [p for p in pool if p.symbol in wanted],
        portfolio.settings.wash_sale_days,
        identical,
    )
