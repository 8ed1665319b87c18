"""The household as trades change it: every SELL and BUY row is recorded here, lot by
lot and account by account, so the rules hold whatever chose the trades (the program,
the simple fallback): no lot oversold, no account below zero, wash sales kept or
reported as the IRS treats them, NoBuy/NoSell and rebalance_mode obeyed.

Decisions (also in docs/decisions.md):
- Each CashFlows row goes into (or out of) its own account; Settings.cash_flow is a
  shorthand for a row on the first account on the Accounts sheet.
- A symbol held in several accounts is sold first where selling is tax-free
  (tax_exempt, then tax_deferred), then in taxable accounts by lot_method.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InfeasibleError, Problem
from ..models.inputs import Account, Portfolio, Settings, TaxLot
from ..models.results import Trade
from .drift import Household
from .lots import basis_per_share, holding_term, order_lots, relieve, tax_rate
from .program.decode import lot_take, share_step, snap
from .wash import (
    LossSale,
    Purchase,
    PurchaseIndex,
    WashMatch,
    buy_blockers,
    identical_sets,
    match_wash_sales,
    past_loss_sales,
    sale_blockers,
)

TYPE_SELL_ORDER = {"tax_exempt": 0, "tax_deferred": 1, "taxable": 2}
EPS = 1e-9


@dataclass(frozen=True)
class Restrictions:
    """NoBuy / NoSell from the Constraints sheet, by symbol, asset class and account, and
    the household-wide rebalance_mode (buy_only sells nothing, sell_only buys nothing)."""

    no_buy: frozenset[tuple[str, str]]
    no_sell: frozenset[tuple[str, str]]
    mode: str = "full"
    # A model's Buy fund named for some account types only (a municipal bond fund for
    # taxable accounts): the accounts it may be bought in.
    buy_in: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_portfolio(cls, portfolio: Portfolio) -> Restrictions:
        buy, sell = set(), set()
        for c in portfolio.constraints:
            name = c.name.upper() if c.scope in ("symbol", "asset_class") else c.name
            if c.no_buy:
                buy.add((c.scope, name))
            if c.no_sell:
                sell.add((c.scope, name))
        # An account marked DoNotTrade (a pending transfer, the client's request) is
        # neither bought nor sold in; its holdings still count toward the drift.
        for a in portfolio.accounts:
            if a.do_not_trade:
                buy.add(("account", a.account))
                sell.add(("account", a.account))
        buy_in = {
            sec.symbol: frozenset(a.account for a in portfolio.accounts if a.type in sec.buy)
            for sec in portfolio.securities
            if sec.buy and len(set(sec.buy)) < 3
        }
        return cls(frozenset(buy), frozenset(sell), portfolio.settings.rebalance_mode, buy_in)

    @staticmethod
    def _hit(rules: frozenset[tuple[str, str]], account: str, symbol: str, cls_name: str) -> bool:
        return (
            ("symbol", symbol) in rules
            or ("account", account) in rules
            or ("asset_class", cls_name.upper()) in rules
        )

    def can_buy(self, account: str, symbol: str, cls_name: str) -> bool:
        if symbol in self.buy_in and account not in self.buy_in[symbol]:
            return False
        return self.mode != "sell_only" and not self._hit(self.no_buy, account, symbol, cls_name)

    def can_sell(self, account: str, symbol: str, cls_name: str) -> bool:
        return self.mode != "buy_only" and not self._hit(self.no_sell, account, symbol, cls_name)


def check_withdrawal(book: Book) -> None:
    """An account whose cash flow exceeds all it may sell cannot be rebalanced at all."""
    household = book.household
    for account, cash in household.cash.items():
        if cash >= -EPS:
            continue
        raisable = 0.0
        for (holder, symbol), shares in household.shares.items():
            if holder != account or shares <= EPS:
                continue
            if not book.rules.can_sell(account, symbol, book._class(symbol)):
                continue
            price = household.prices[symbol]
            shares -= sum(lot.shares for lot in book._blocked_lots(account, symbol, price))
            if book.st.whole_shares:
                shares = snap(shares, book.step, "down")
            raisable += max(shares, 0.0) * price * (1 - book.cost_rate)
        if cash + raisable < -0.005:
            raise InfeasibleError(
                f"account {account} cannot cover the withdrawal: it would end with "
                f"{cash + raisable:,.2f} cash after selling everything it may sell",
                flow_cells(book.portfolio, account, f"more than account {account} can raise"),
            )


def flow_cells(portfolio: Portfolio, account: str | None, message: str) -> list[Problem]:
    """Where the user typed the flows of `account` (every account with None): its
    CashFlows Amount cells, and the cash_flow setting for the first account."""
    first = portfolio.accounts[0].account if portfolio.accounts else None
    cells = [
        Problem(message, "CashFlows", None, row=f.row, field="amount")
        for f in portfolio.cash_flows
        if account in (None, f.account) and f.applied_on is None
    ]
    if portfolio.settings.cash_flow and account in (None, first):
        cells.append(Problem(message, "Settings", None, field="cash_flow"))
    return cells


def wash_adjusted(book: Book) -> list[Trade]:
    """Where the user allows wash sales, report them as the IRS treats them.

    Each loss sold this run is matched to replacement purchases (past ones on record
    and this run's buys) in order of acquisition; the disallowed part leaves the sale's
    recognized gain and estimated tax, and goes into the replacement's basis with the
    sold lot's holding period. A replacement bought in an IRA or Roth loses it for good
    (Rev. Rul. 2008-5). Sales without a replacement are left as they are.
    """
    trades = book.trades
    if not book.st.allow_wash_sales:
        return trades
    matches = _run_matches(book)
    if not matches:
        return trades
    effects = _WashEffects(
        sale_rows={
            (t.account, t.lot_id): i
            for i, t in enumerate(trades)
            if t.action == "SELL" and t.lot_id
        },
        buy_rows={(t.account, t.symbol): i for i, t in enumerate(trades) if t.action == "BUY"},
    )
    for match in matches:
        _record_match(book, match, effects)
    out = list(trades)
    _basis_into_sales(out, effects, book.st)
    _moved_into_rows(out, effects, book.st)
    book.trades = out
    return out


def _run_matches(book: Book) -> list[WashMatch]:
    """The wash sales this run takes part in: a loss sold this run, or a buy of it."""
    st = book.st
    valuation = st.valuation_date
    assert valuation is not None
    run_buys = [
        Purchase(t.account, t.symbol, valuation, t.shares, f"this run, BUY row {i + 1}")
        for i, t in enumerate(book.trades)
        if t.action == "BUY"
    ]
    past = [p for group in book.purchases.by_symbol.values() for p in group]
    return [
        m
        for m in match_wash_sales(
            [s for s in book.loss_sales if not s.matched],
            past + run_buys,
            st.wash_sale_days,
            book.identical,
        )
        if m.sale.source.startswith("this run") or m.purchase.source.startswith("this run")
    ]


@dataclass
class _WashEffects:
    """What the matched wash sales do to the run's rows, by row index."""

    sale_rows: dict[tuple[str, str], int]  # (account, lot id) -> its SELL row
    buy_rows: dict[tuple[str, str], int]  # (account, symbol) -> its BUY row
    notes: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    disallowed_by_sale: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    moved: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    basis_in: dict[int, float] = field(  # into a replacement lot sold now
        default_factory=lambda: defaultdict(float)
    )
    tacked: dict[int, dt.date] = field(default_factory=dict)
    replaced: dict[int, float] = field(  # a BUY row's replacement shares
        default_factory=lambda: defaultdict(float)
    )
    starts: dict[int, list[dt.date]] = field(default_factory=lambda: defaultdict(list))


def _record_match(book: Book, match: WashMatch, effects: _WashEffects) -> None:
    """One match: the sale's disallowed loss, and where it goes (the replacement's basis,
    or lost for good in a retirement account)."""
    sale, purchase, amount = match.sale, match.purchase, match.disallowed_loss
    taxable = book.accounts[purchase.account].taxable if purchase.account in book.accounts else True
    held = (
        f"holding period from {match.holding_start.isoformat()}"
        if match.holding_start
        else "the sold shares' holding period added"
    )
    fate = (
        f"moved into the basis of {purchase.describe()}, {held}"
        if taxable
        else f"lost for good: the replacement was bought in {purchase.account}, "
        "a retirement account (Rev. Rul. 2008-5)"
    )
    index = effects.sale_rows.get(sale.lot_key) if sale.lot_key else None
    if sale.row is not None and not sale.source.startswith("this run"):
        # A recorded sale this run's buy washes: its loss leaves the year's netting.
        book.recorded_disallowed[sale.row] += amount
    if index is not None:
        effects.moved[index] += amount
        effects.disallowed_by_sale[index].append(f"{amount:,.2f} {fate}")
    if purchase.source.startswith("this run"):
        _into_run_buy(book, match, effects, taxable, held)
    elif taxable and purchase.lot_key is not None:
        _into_held_lot(book, match, effects, held)


def _into_run_buy(
    book: Book, match: WashMatch, effects: _WashEffects, taxable: bool, held: str
) -> None:
    """The replacement is one of this run's buys: the loss goes into its basis, or in a
    retirement account is lost for good (a warning says so)."""
    sale, purchase, amount = match.sale, match.purchase, match.disallowed_loss
    row = effects.buy_rows[(purchase.account, purchase.symbol)]
    if taxable:
        effects.moved[row] += amount
        effects.replaced[row] += match.shares
        if match.holding_start is not None:
            effects.starts[row].append(match.holding_start)
        effects.notes[row].append(f"{amount:,.2f} of the loss on {sale.describe()}, {held}")
        return
    book.warnings.append(
        Problem(
            f"wash sale: buying {purchase.symbol} in {purchase.account} disallows "
            f"{amount:,.2f} of the loss on {sale.describe()} for good "
            "(a retirement account's basis cannot take it)",
            "Transactions" if sale.row is not None else None,
            level="warning",
            row=sale.row,
            field="symbol" if sale.row is not None else None,
        )
    )


def _into_held_lot(book: Book, match: WashMatch, effects: _WashEffects, held: str) -> None:
    """The replacement is a lot already held. A replacement lot this run also sells takes
    the loss into that sale's basis (and the tacked holding period into its term):
    otherwise the loss would be in nobody's basis. What stays in the lot is the Log's to
    say."""
    sale, purchase, amount = match.sale, match.purchase, match.disallowed_loss
    assert purchase.lot_key is not None
    row = effects.sale_rows.get(purchase.lot_key)
    kept = amount
    if row is not None:
        held_before = book.lot_shares.get(purchase.lot_key, 0.0)
        share = min(1.0, book.trades[row].shares / held_before) if held_before else 1.0
        carried = round(amount * share, 2)
        kept = round(amount - carried, 2)
        effects.basis_in[row] += carried
        if match.holding_start is not None:
            start = match.holding_start
            effects.tacked[row] = min(effects.tacked.get(row, start), start)
        effects.notes[row].append(f"{carried:,.2f} of the loss on {sale.describe()}, {held}")
    if kept > 0.005:
        book.warnings.append(
            Problem(
                f"wash sale: after {sale.describe()}, add {kept:,.2f} to the basis of "
                f"{purchase.source} ({match.shares:g} shares: its CostBasis and its "
                f"WashAdjustment) and count its {held}",
                "TaxLots",
                None,
                "info",
            )
        )


def _basis_into_sales(out: list[Trade], effects: _WashEffects, st: Settings) -> None:
    """SELL rows of replacement lots: the loss carried into their basis and term."""
    valuation = st.valuation_date
    assert valuation is not None
    for index, amount in effects.basis_in.items():
        trade = out[index]
        term = trade.term
        if index in effects.tacked:
            term = holding_term(effects.tacked[index], valuation)
        recognized = round((trade.realized_gain or 0.0) - amount, 2)
        rate = tax_rate(term or "ST", st.st_tax_rate, st.lt_tax_rate)
        out[index] = trade.model_copy(
            update={
                "cost_basis": round((trade.cost_basis or 0.0) + amount, 2),
                "realized_gain": recognized,
                "term": term,
                "est_tax": round(recognized * rate, 2),
                "reason": f"{trade.reason}; wash sale: basis includes "
                + "; ".join(effects.notes[index]),
            }
        )


def _moved_into_rows(out: list[Trade], effects: _WashEffects, st: Settings) -> None:
    """The disallowed loss leaves each wash sale's gain, and goes into each BUY row that
    replaces it."""
    for index, amount in effects.moved.items():
        trade = out[index]
        if trade.action == "SELL":
            recognized = round((trade.realized_gain or 0.0) + amount, 2)
            rate = tax_rate(trade.term or "ST", st.st_tax_rate, st.lt_tax_rate)
            out[index] = trade.model_copy(
                update={
                    "realized_gain": recognized,
                    "est_tax": round(recognized * rate, 2),
                    "reason": f"{trade.reason}; wash sale: "
                    + "; ".join(effects.disallowed_by_sale[index]),
                }
            )
        else:
            # The lot's holding start when every share bought replaces sold shares: the
            # latest tacked start, so no share is called long-term too early; a buy
            # only partly a replacement keeps its own date (its Reason gives the rest).
            starts = effects.starts[index]
            whole = effects.replaced[index] >= trade.shares - EPS and starts
            out[index] = trade.model_copy(
                update={
                    "holding_start": max(starts) if whole else None,
                    "cost_basis": round((trade.cost_basis or trade.value) + amount, 2),
                    "reason": f"{trade.reason}; wash sale: basis includes "
                    + "; ".join(effects.notes[index]),
                }
            )


class Book:
    """The household as trades change it; every trade goes through here."""

    def __init__(
        self,
        portfolio: Portfolio,
        household: Household,
        accounts: list[Account],
        lots: dict[tuple[str, str], list[TaxLot]],
        rules: Restrictions,
        warnings: list[Problem],
        purchases: PurchaseIndex,
    ) -> None:
        self.portfolio = portfolio
        self.st = portfolio.settings
        self.step = share_step(self.st)
        self.household = household
        self.accounts = {a.account: a for a in accounts}
        self.order = [a.account for a in accounts]
        self.lots = lots
        self.rules = rules
        self.warnings = warnings
        self.trades: list[Trade] = []
        self.cost_rate = self.st.cost_bps / 10_000.0
        self.identical = identical_sets(portfolio)
        self.purchases = purchases
        self.loss_sales, notes = past_loss_sales(portfolio)
        self.loss_sales += purchases.loss_sales_elsewhere  # a spouse's (HouseholdActivity)
        self.warnings.extend(Problem(n, "Transactions", None, "info") for n in notes)
        self.blocked: dict[tuple[str, str], list[TaxLot]] = {}
        # Loss of recorded sales (by Transactions row) this run's buys wash.
        self.recorded_disallowed: dict[int, float] = defaultdict(float)
        # in_band_gains = allow: the tax the plan pays for moves inside the bands.
        self.in_band_tax: float | None = None
        # Each lot's shares before the run, to share a wash adjustment with its sale.
        self.lot_shares = {(lot.account, lot.lot_id): lot.shares for lot in portfolio.lots}

    def round_shares(self, shares: float) -> float:
        return snap(shares, self.step)

    def _class(self, symbol: str) -> str:
        return self.household.classes.get(symbol, "")

    def _blocked_lots(self, account: str, symbol: str, price: float) -> list[TaxLot]:
        """Loss lots whose sale a recent purchase would wash (unless wash sales are allowed)."""
        key = (account, symbol)
        if key not in self.blocked:
            blocked = []
            if self.accounts[account].taxable and not self.st.allow_wash_sales:
                valuation = self.st.valuation_date
                assert valuation is not None
                for lot in self.lots.get(key, []):
                    # A loss after the selling cost is a loss (the cost reduces the
                    # amount realized), so a sale at basis can be a wash sale too.
                    if lot.lock == "lock" or basis_per_share(lot) <= price * (1 - self.cost_rate):
                        continue
                    blockers = sale_blockers(
                        symbol,
                        valuation,
                        self.purchases,
                        self.st.wash_sale_days,
                        self.identical,
                        own_lot=(account, lot.lot_id),
                        limit=1,  # one names the block; all of them cost n² (wash.py)
                    )
                    if blockers:
                        blocked.append(lot)
                        self.warnings.append(
                            Problem(
                                f"lot {lot.lot_id} of {symbol} in {account} is kept: selling it at a "
                                f"loss would be a wash sale ({blockers[0].describe()})",
                                "TaxLots",
                                None,
                                "warning",
                                lot.row,
                                "lot_id",
                            )
                        )
            locked = [lot for lot in self.lots.get(key, []) if lot.lock == "lock"]
            self.blocked[key] = locked + blocked
        return self.blocked[key]

    def sell(self, symbol: str, shares: float, reason: str, only: str | None = None) -> float:
        """Sell up to `shares`, tax-free accounts first; returns the shares sold."""
        price = self.household.prices[symbol]
        holders = [
            a
            for a in self.order
            if self.household.shares.get((a, symbol), 0) > EPS
            and (only is None or a == only)
            and self.rules.can_sell(a, symbol, self._class(symbol))
        ]
        holders.sort(key=lambda a: (TYPE_SELL_ORDER[self.accounts[a].type], self.order.index(a)))
        sold_total = 0.0
        for account in holders:
            left = shares - sold_total
            if left <= EPS:
                break
            held = self.household.shares[(account, symbol)]
            held -= sum(lot.shares for lot in self._blocked_lots(account, symbol, price))
            take = min(left, held)
            if take < held:
                take = snap(take, self.step, "down")
            if take <= EPS or (take * price < self.st.min_trade_value and take < held - EPS):
                continue
            self._sell_in(account, symbol, take, price, reason)
            sold_total += take
        return sold_total

    def _sell_in(self, account: str, symbol: str, shares: float, price: float, reason: str) -> None:
        st = self.st
        lots = self.lots.get((account, symbol), [])
        valuation = st.valuation_date
        assert valuation is not None
        if not lots:
            self.record_sale(account, symbol, [(None, shares)], reason)
            return
        blocked = {id(lot) for lot in self._blocked_lots(account, symbol, price)}
        ordered = order_lots(
            [lot for lot in lots if id(lot) not in blocked],
            st.lot_method,
            price=price,
            sale_date=valuation,
            st_rate=st.st_tax_rate,
            lt_rate=st.lt_tax_rate,
        )
        slices = relieve(ordered, shares, price=price, sale_date=valuation)
        pieces = [(p.lot, lot_take(p.shares, p.lot.shares, self.step)) for p in slices]
        self.record_sale(account, symbol, [(lot, n) for lot, n in pieces if n > EPS], reason)

    def record_sale(
        self, account: str, symbol: str, slices: list[tuple[TaxLot | None, float]], reason: str
    ) -> None:
        """One Trade row per lot slice (or one for a position without lots)."""
        acct = self.accounts[account]
        st = self.st
        price = self.household.prices[symbol]
        valuation = st.valuation_date
        assert valuation is not None
        remaining = {id(lot): lot for lot in self.lots.get((account, symbol), [])}
        for lot, shares in slices:
            value = round(shares * price, 2)
            cost = round(value * self.cost_rate, 2)
            if lot is None:
                if acct.taxable:
                    self.warnings.append(
                        Problem(
                            f"{symbol} in {account} has no tax lots: the gain of this sale is "
                            "unknown",
                            "TaxLots",
                            None,
                            "warning",
                        )
                    )
                self.trades.append(
                    Trade(
                        account=account,
                        symbol=symbol,
                        action="SELL",
                        shares=shares,
                        price=price,
                        value=value,
                        est_cost=cost,
                        reason=reason,
                    )
                )
            else:
                piece = relieve([lot], shares, price=price, sale_date=valuation)[0]
                # Selling costs reduce the amount realized (Form 8949 instructions,
                # column (e) / Pub. 551 "Basis of Assets"): gain = value - cost - basis.
                realized = round(value - cost - piece.basis, 2)
                gain = realized if acct.taxable else None
                rate = tax_rate(piece.term, st.st_tax_rate, st.lt_tax_rate)
                self.trades.append(
                    Trade(
                        account=account,
                        symbol=symbol,
                        action="SELL",
                        shares=piece.shares,
                        price=price,
                        value=value,
                        lot_id=lot.lot_id,
                        acquired=lot.acquired,
                        cost_basis=round(piece.basis, 2),
                        realized_gain=gain,
                        term=piece.term if acct.taxable else None,
                        est_tax=round(realized * rate, 2) if acct.taxable else 0.0,
                        est_cost=cost,
                        reason=reason,
                    )
                )
                if acct.taxable and realized < 0:
                    self.loss_sales.append(
                        LossSale(
                            account,
                            symbol,
                            valuation,
                            piece.shares,
                            -realized,
                            f"this run, lot {lot.lot_id}",
                            lot.holding_from,
                            (account, lot.lot_id),
                            lot.acquired,
                        )
                    )
                current = remaining.get(id(lot), lot)
                remaining[id(lot)] = current.model_copy(
                    update={
                        "shares": current.shares - piece.shares,
                        "cost_basis": round(current.cost_basis - piece.basis, 2),
                    }
                )
            self.household.cash[account] += value - cost
            self.household.shares[(account, symbol)] -= shares
        if (account, symbol) in self.lots:
            self.lots[(account, symbol)] = [lot for lot in remaining.values() if lot.shares > EPS]

    def raise_cash(self, account: str, need: float, desired: dict[str, float]) -> None:
        """Cover a withdrawal (or costs) from one account's positions, most overweight first."""
        symbols = [s for (a, s), n in self.household.shares.items() if a == account and n > EPS]
        symbols.sort(key=lambda s: desired.get(s, 0.0) - self.household.value_of(s))
        for symbol in symbols:
            need = -self.household.cash[account]
            if need <= EPS:
                return
            price = self.household.prices[symbol]
            shares = need / (price * (1 - self.cost_rate))
            shares = snap(shares, self.step, "up")
            shares = min(shares, self.household.shares[(account, symbol)])
            self.sell(symbol, shares, "cash flow: raise cash for the withdrawal", only=account)
        if self.household.cash[account] < -EPS:
            raise InfeasibleError(
                f"account {account} cannot cover the withdrawal: it would end with "
                f"{self.household.cash[account]:,.2f} cash after selling everything it may sell",
                flow_cells(self.portfolio, account, f"more than account {account} can raise"),
            )

    def record_buy(self, account: str, symbol: str, shares: float, reason: str) -> None:
        """A BUY row is the new lot: acquired today, its basis the price paid plus the
        buying costs (Pub. 551, "Cost Basis": commissions and fees are added)."""
        price = self.household.prices[symbol]
        value = round(shares * price, 2)
        cost = round(value * self.cost_rate, 2)
        self.trades.append(
            Trade(
                account=account,
                symbol=symbol,
                action="BUY",
                shares=shares,
                price=price,
                value=value,
                acquired=self.st.valuation_date,
                cost_basis=round(value + cost, 2),
                est_cost=cost,
                reason=reason,
            )
        )
        self.household.cash[account] -= value + cost
        key = (account, symbol)
        self.household.shares[key] = self.household.shares.get(key, 0.0) + shares

    def buy_washes(self, symbol: str, warn: bool = True) -> bool:
        """Whether buying `symbol` now would wash a recent or same-run loss sale."""
        valuation = self.st.valuation_date
        assert valuation is not None
        # Allowed wash sales still never buy back what this run sold at a loss: that
        # would only defer the loss the sale was made for.
        sales = (
            [s for s in self.loss_sales if s.source.startswith("this run")]
            if self.st.allow_wash_sales
            else self.loss_sales
        )
        blockers = buy_blockers(symbol, valuation, sales, self.st.wash_sale_days, self.identical)
        if blockers and warn:
            self.warnings.append(
                Problem(
                    f"no BUY of {symbol}: it would wash {blockers[0].describe()}",
                    # The loss sale's Transactions row when it is one (this run's own sale
                    # has no cell yet).
                    "Transactions" if blockers[0].row is not None else None,
                    None,
                    "warning",
                    blockers[0].row,
                    "symbol" if blockers[0].row is not None else None,
                )
            )
        return bool(blockers)

    def buy(self, symbol: str, shares: float, reserve: float, reason: str) -> None:
        price = self.household.prices[symbol]
        if self.buy_washes(symbol):
            return
        total_cash = self.household.total_cash
        budgets = {}
        for account in self.order:
            if not self.rules.can_buy(account, symbol, self._class(symbol)):
                continue
            cash = self.household.cash[account]
            share_of_reserve = reserve * cash / total_cash if total_cash > EPS else 0.0
            budgets[account] = cash - share_of_reserve
        left = shares
        for account in sorted(budgets, key=lambda a: (-budgets[a], self.order.index(a))):
            if left <= EPS:
                break
            affordable = budgets[account] / (price * (1 + self.cost_rate))
            take = min(left, snap(max(affordable, 0.0), self.step, "down"))
            if take <= EPS or take * price < self.st.min_trade_value:
                continue
            value = round(take * price, 2)
            cost = round(value * self.cost_rate, 2)
            if value + cost > self.household.cash[account] + 1e-6:
                take = snap(take - self.step, self.step)
                value = round(take * price, 2)
                cost = round(value * self.cost_rate, 2)
                if take <= EPS:
                    continue
            self.record_buy(account, symbol, take, reason)
            left -= take
