"""Corporate actions applied to lots: splits, dividends, mergers, spin-offs, renames.

Pure: a Portfolio in, the new lots, holdings, cash and action statuses out, with a line
for every change so the Log can show old and new lots side by side.

Rules (each written down here because the IRS leaves the mechanics to the issuer):
- Actions are applied in order of EffectiveDate, then ActionId; only `pending` ones
  dated on or before valuation_date. Applied ones are skipped, so applying twice
  changes nothing.
- Shares are kept to 6 decimals, money to the cent. Where basis is divided (a spin-off,
  a fractional share), the piece moved is rounded to the cent and the rest keeps the
  remainder, so the totals match the original basis exactly.
- Fractional shares: when a position held whole shares before the action and holds a
  fraction after, the fraction is paid in cash ("cash in lieu"), as transfer agents
  do per account. The fraction is taken from the position's most recently acquired
  lots first (the lot the broker's own 1099-B usually reports) and treated as sold:
  proceeds minus that fraction's basis is a realized gain or loss with the lot's term.
  A position that already held a fraction (a fractional-share broker) keeps it.
- split: Ratio new shares per old share; basis unchanged. Cash in lieu at CashPerShare
  (the post-split price per share the agent paid), else the symbol's price.
- stock_dividend: Ratio extra shares per share, i.e. a split by 1 + Ratio.
- cash_dividend: CashPerShare × shares to the account's cash; with the setting
  reinvest_dividends, whole shares are bought at NewSymbolPrice (the reinvestment
  price) or the symbol's price, as a new lot dated EffectiveDate.
- return_of_capital (a nondividend distribution, Form 1099-DIV box 3): CashPerShare ×
  shares to the account's cash; each lot's basis is reduced by its share, and what is
  more than the lot's basis is a capital gain with the lot's term (IRS Pub. 550,
  "Nondividend Distributions": $100 of basis, $80 then $30 distributed: basis 0 and a
  $10 gain). A position without lots (a tax-advantaged account) only gets the cash.
- merger, reorganization (the default): Ratio new shares and/or CashPerShare per old
  share, lot by lot (Reg. §1.358-2: each block on its own). Gain realized = cash +
  NewSymbolPrice × new shares − basis; gain recognized = min(gain realized, cash),
  a loss is not recognized (§356(a), §356(c)); the new shares' basis = old basis −
  cash + gain recognized (§358(a)), holding period carried over. All cash: a sale.
- merger with Taxable = TRUE (a fully taxable acquisition such as CVS/Aetna 2018):
  gain or loss = cash + NewSymbolPrice × new shares − basis, all recognized; the new
  shares' basis is their value and their holding period starts on EffectiveDate.
- spinoff: Ratio new shares per parent share; BasisAllocation of each parent lot's
  basis moves to a new lot with the parent's acquisition date; cash in lieu of the
  new fractions at NewSymbolPrice.
- symbol_change: lots and holdings renamed; basis and dates unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError, Problem
from ..models.inputs import CorporateAction, Holding, Portfolio, TaxLot
from .lots import holding_term

SHARE_DECIMALS = 6
EPS = 1e-9


@dataclass(frozen=True)
class Realized:
    """A gain or loss the action made taxable (cash in lieu, a merger's cash)."""

    action_id: str
    account: str
    symbol: str
    lot_id: str
    shares: float
    proceeds: float
    basis: float
    gain: float
    term: str
    taxable: bool


@dataclass
class ActionsResult:
    lots: list[TaxLot]
    holdings: list[Holding]
    cash: dict[str, float]
    actions: list[CorporateAction]
    realized: list[Realized] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)


def cents(x: float) -> float:
    """Round half away from zero, as money is rounded on statements."""
    return math.copysign(math.floor(abs(x) * 100 + 0.5 + 1e-9) / 100, x)


def _shares(x: float) -> float:
    return round(x, SHARE_DECIMALS)


def due_actions(portfolio: Portfolio) -> list[CorporateAction]:
    valuation = portfolio.settings.valuation_date or dt.date.today()
    pending = [
        a for a in portfolio.actions if a.status == "pending" and a.effective_date <= valuation
    ]
    return sorted(pending, key=lambda a: (a.effective_date, a.action_id))


def apply_actions(
    portfolio: Portfolio,
    prices: Mapping[str, float] | None = None,
    *,
    applied_on: dt.date | None = None,
) -> ActionsResult:
    """Apply every due pending action; see the module docstring for the rules.

    prices : latest prices, used only for cash in lieu of a split or a reinvested
        dividend when the action row gives no price of its own.
    """
    prices = prices or {}
    st = portfolio.settings
    today = applied_on or st.valuation_date or dt.date.today()
    types = {a.account: a.type for a in portfolio.accounts}
    book = _Book(
        lots=list(portfolio.lots),
        holdings=list(portfolio.holdings),
        cash={a.account: a.cash for a in portfolio.accounts},
        types=types,
        reinvest=st.reinvest_dividends,
        whole=st.whole_shares,
        prices=prices,
    )
    statuses: dict[str, CorporateAction] = {}
    for action in due_actions(portfolio):
        book.apply(action)
        statuses[action.action_id] = action.model_copy(
            update={"status": "applied", "applied_on": today}
        )
        book.result.applied.append(action.action_id)
    valuation = st.valuation_date or dt.date.today()
    for action in portfolio.actions:
        if action.status == "pending" and action.effective_date > valuation:
            book.result.warnings.append(
                Problem(
                    f"{action.action_id} ({action.type} of {action.symbol}) is dated "
                    f"{action.effective_date}, after valuation_date: left pending",
                    "CorporateActions",
                    None,
                    "info",
                )
            )
    result = book.result
    result.lots, result.holdings, result.cash = book.lots, book.holdings, book.cash
    result.actions = [statuses.get(a.action_id, a) for a in portfolio.actions]
    return result


@dataclass
class _Book:
    lots: list[TaxLot]
    holdings: list[Holding]
    cash: dict[str, float]
    types: dict[str, str]
    reinvest: bool
    whole: bool
    prices: Mapping[str, float]
    result: ActionsResult = field(default_factory=lambda: ActionsResult([], [], {}, []))

    # positions ---------------------------------------------------------------------
    def accounts_holding(self, symbol: str) -> list[str]:
        seen: dict[str, None] = {}
        for item in (*self.lots, *self.holdings):
            if item.symbol == symbol and item.shares > EPS:
                seen.setdefault(item.account, None)
        return list(seen)

    def lots_of(self, account: str, symbol: str) -> list[TaxLot]:
        return [lot for lot in self.lots if lot.account == account and lot.symbol == symbol]

    def position(self, account: str, symbol: str) -> float:
        lots = self.lots_of(account, symbol)
        if lots:
            return sum(lot.shares for lot in lots)
        return sum(h.shares for h in self.holdings if h.account == account and h.symbol == symbol)

    def log(self, action: CorporateAction, text: str) -> None:
        self.result.changes.append(f"{action.action_id} {action.type} {action.symbol}: {text}")

    def realize(
        self,
        action: CorporateAction,
        lot: TaxLot | None,
        account: str,
        symbol: str,
        shares: float,
        proceeds: float,
        basis: float,
        term_from: dt.date | None = None,
        recognized: float | None = None,
    ) -> None:
        gain = cents(proceeds - basis) if recognized is None else recognized
        start = term_from or (lot.holding_from if lot else action.effective_date)
        self.result.realized.append(
            Realized(
                action.action_id,
                account,
                symbol,
                lot.lot_id if lot else "",
                shares,
                proceeds,
                basis,
                gain,
                holding_term(start, action.effective_date, bool(lot and lot.inherited)),
                self.types.get(account) == "taxable",
            )
        )

    # dispatch ----------------------------------------------------------------------
    def apply(self, action: CorporateAction) -> None:
        handler = getattr(self, f"_{action.type}")
        handler(action)

    def _split(self, action: CorporateAction, factor: float | None = None) -> None:
        factor = factor if factor is not None else float(action.ratio or 1.0)
        price = action.cash_per_share or self.prices.get(action.symbol)
        for account in self.accounts_holding(action.symbol):
            before = self.position(account, action.symbol)
            for i, lot in enumerate(self.lots):
                if lot.account == account and lot.symbol == action.symbol:
                    new = lot.model_copy(update={"shares": _shares(lot.shares * factor)})
                    self.log(
                        action, f"{account} lot {lot.lot_id}: {_lot_text(lot)} → {_lot_text(new)}"
                    )
                    self.lots[i] = new
            self._scale_holdings(account, action.symbol, factor)
            self._cash_in_lieu(action, account, action.symbol, before, price, "CashPerShare")

    def _stock_dividend(self, action: CorporateAction) -> None:
        self._split(action, 1.0 + float(action.ratio or 0.0))

    def _cash_dividend(self, action: CorporateAction) -> None:
        rate = float(action.cash_per_share or 0.0)
        for account in self.accounts_holding(action.symbol):
            shares = self.position(account, action.symbol)
            amount = cents(shares * rate)
            self.cash[account] = cents(self.cash.get(account, 0.0) + amount)
            self.log(action, f"{account}: {shares:g} sh × {rate:g} = {amount:,.2f} to cash")
            if not self.reinvest:
                continue
            price = action.new_symbol_price or self.prices.get(action.symbol)
            if not price:
                self.result.warnings.append(
                    Problem(
                        f"{action.action_id}: no price to reinvest the dividend at "
                        "(fill NewSymbolPrice): left in cash",
                        "CorporateActions",
                        None,
                        "warning",
                    )
                )
                continue
            bought = math.floor(amount / price + EPS) if self.whole else _shares(amount / price)
            if bought <= 0:
                continue
            cost = cents(bought * price)
            self.cash[account] = cents(self.cash[account] - cost)
            lot = TaxLot(
                account=account,
                symbol=action.symbol,
                lot_id=f"{action.action_id}-DRIP",
                acquired=action.effective_date,
                shares=bought,
                cost_basis=cost,
            )
            self.lots.append(lot)
            self._add_holding(account, action.symbol, bought, action.symbol)
            self.log(action, f"{account}: reinvested in {_lot_text(lot)}")

    def _return_of_capital(self, action: CorporateAction) -> None:
        rate = float(action.cash_per_share or 0.0)
        for account in self.accounts_holding(action.symbol):
            shares = self.position(account, action.symbol)
            amount = cents(shares * rate)
            self.cash[account] = cents(self.cash.get(account, 0.0) + amount)
            self.log(action, f"{account}: {shares:g} sh × {rate:g} = {amount:,.2f} to cash")
            for lot in self.lots_of(account, action.symbol):
                paid = cents(lot.shares * rate)
                reduced = min(paid, lot.cost_basis)
                basis = cents(lot.cost_basis - reduced)
                new = lot.model_copy(
                    update={
                        "cost_basis": basis,
                        "wash_adjustment": min(lot.wash_adjustment, basis),
                    }
                )
                self.lots[self.lots.index(lot)] = new
                self.log(action, f"{account} lot {lot.lot_id}: {_lot_text(lot)} → {_lot_text(new)}")
                if paid - reduced > 0.005:
                    self.realize(
                        action, lot, account, action.symbol, lot.shares, cents(paid - reduced), 0.0
                    )

    def _symbol_change(self, action: CorporateAction) -> None:
        new_symbol = str(action.new_symbol)
        for i, lot in enumerate(self.lots):
            if lot.symbol == action.symbol:
                self.lots[i] = lot.model_copy(update={"symbol": new_symbol})
                self.log(action, f"{lot.account} lot {lot.lot_id} renamed {new_symbol}")
        for i, holding in enumerate(self.holdings):
            if holding.symbol == action.symbol:
                self.holdings[i] = holding.model_copy(update={"symbol": new_symbol})

    def _spinoff(self, action: CorporateAction) -> None:
        child = str(action.new_symbol)
        ratio = float(action.ratio or 0.0)
        share = float(action.basis_allocation or 0.0)
        for account in self.accounts_holding(action.symbol):
            parent_shares = self.position(account, action.symbol)
            for lot in self.lots_of(account, action.symbol):
                moved = cents(lot.cost_basis * share)
                wash_moved = cents(lot.wash_adjustment * share)
                parent = lot.model_copy(
                    update={
                        "cost_basis": cents(lot.cost_basis - moved),
                        "wash_adjustment": cents(lot.wash_adjustment - wash_moved),
                    }
                )
                self.lots[self.lots.index(lot)] = parent
                new = TaxLot(
                    account=account,
                    symbol=child,
                    lot_id=f"{lot.lot_id}-{child}",
                    acquired=lot.acquired,
                    shares=_shares(lot.shares * ratio),
                    cost_basis=moved,
                    wash_adjustment=wash_moved,
                    holding_start=lot.holding_start,
                    inherited=lot.inherited,
                )
                self.lots.append(new)
                self.log(
                    action,
                    f"{account} lot {lot.lot_id}: {_lot_text(lot)} → {_lot_text(parent)} "
                    f"and new lot {new.lot_id}: {_lot_text(new)}",
                )
            self._add_holding(account, child, _shares(parent_shares * ratio), action.symbol)
            self._cash_in_lieu(
                action,
                account,
                child,
                parent_shares * ratio,
                action.new_symbol_price,
                "NewSymbolPrice",
                whole_before=_is_whole(parent_shares),
            )

    def _merger(self, action: CorporateAction) -> None:
        new_symbol = action.new_symbol
        ratio = float(action.ratio or 0.0)
        rate = float(action.cash_per_share or 0.0)
        value = float(action.new_symbol_price or 0.0)
        for account in self.accounts_holding(action.symbol):
            old_shares = self.position(account, action.symbol)
            lots = self.lots_of(account, action.symbol)
            cash_total = 0.0
            for lot in lots:
                cash = cents(lot.shares * rate)
                cash_total += cash
                new_shares = _shares(lot.shares * ratio)
                self.lots.remove(lot)
                if new_symbol is None or new_shares <= EPS:
                    self.realize(
                        action, lot, account, action.symbol, lot.shares, cash, lot.cost_basis
                    )
                    self.log(
                        action,
                        f"{account} lot {lot.lot_id}: {_lot_text(lot)} paid {cash:,.2f} in cash",
                    )
                    continue
                if action.taxable:
                    fmv = cents(new_shares * value)
                    self.realize(
                        action, lot, account, action.symbol, lot.shares, cash + fmv, lot.cost_basis
                    )
                    new = TaxLot(
                        account=account,
                        symbol=new_symbol,
                        lot_id=lot.lot_id,
                        acquired=action.effective_date,
                        shares=new_shares,
                        cost_basis=fmv,
                    )
                else:
                    realized = cents(cash + new_shares * value - lot.cost_basis) if cash else 0.0
                    recognized = max(0.0, min(realized, cash))
                    if cash:
                        self.realize(
                            action,
                            lot,
                            account,
                            action.symbol,
                            lot.shares,
                            cash,
                            cents(cash - recognized),
                            recognized=recognized,
                        )
                    new = lot.model_copy(
                        update={
                            "symbol": new_symbol,
                            "shares": new_shares,
                            "cost_basis": cents(lot.cost_basis - cash + recognized),
                        }
                    )
                self.lots.append(new)
                self.log(
                    action,
                    f"{account} lot {lot.lot_id}: {_lot_text(lot)} → {_lot_text(new)}"
                    + (f" and {cash:,.2f} in cash" if cash else ""),
                )
            if not lots:  # a position without lots: shares and cash only
                cash_total = cents(old_shares * rate)
                self.log(action, f"{account}: {old_shares:g} sh exchanged")
            self.cash[account] = cents(self.cash.get(account, 0.0) + cash_total)
            if new_symbol is not None and ratio:
                self._add_holding(account, new_symbol, _shares(old_shares * ratio), action.symbol)
            self.holdings = [
                h for h in self.holdings if not (h.account == account and h.symbol == action.symbol)
            ]
            if new_symbol is not None and ratio:
                self._cash_in_lieu(
                    action,
                    account,
                    new_symbol,
                    old_shares * ratio,
                    action.new_symbol_price,
                    "NewSymbolPrice",
                    whole_before=_is_whole(old_shares),
                )

    # shared steps ------------------------------------------------------------------
    def _cash_in_lieu(
        self,
        action: CorporateAction,
        account: str,
        symbol: str,
        before: float,
        price: float | None,
        price_column: str,
        whole_before: bool | None = None,
    ) -> None:
        whole_before = _is_whole(before) if whole_before is None else whole_before
        total = self.position(account, symbol)
        fraction = _shares(total - math.floor(total + 1e-6))
        if not whole_before or fraction <= EPS:
            return
        if not price:
            raise InputError(
                [
                    Problem(
                        f"{action.action_id} leaves {account} with {fraction:g} of a share of "
                        f"{symbol}: give {price_column}, the price the fraction is paid at",
                        "CorporateActions",
                        None,
                    )
                ]
            )
        proceeds = cents(fraction * price)
        self.cash[account] = cents(self.cash.get(account, 0.0) + proceeds)
        left = fraction
        lots = sorted(
            self.lots_of(account, symbol), key=lambda x: (x.acquired, x.lot_id), reverse=True
        )
        if not lots:
            self._scale_holdings(account, symbol, (total - fraction) / total)
            self.log(
                action, f"{account}: {fraction:g} sh of {symbol} paid in cash, {proceeds:,.2f}"
            )
            return
        for lot in lots:
            if left <= EPS:
                break
            take = min(lot.shares, left)
            basis = cents(lot.cost_basis * take / lot.shares) if lot.shares > 0 else 0.0
            pay = proceeds if take >= left - EPS else cents(proceeds * take / fraction)
            proceeds -= pay
            left = _shares(left - take)
            rest = lot.model_copy(
                update={
                    "shares": _shares(lot.shares - take),
                    "cost_basis": cents(lot.cost_basis - basis),
                }
            )
            self.realize(action, lot, account, symbol, take, pay, basis)
            index = self.lots.index(lot)
            if rest.shares <= EPS:
                del self.lots[index]
            else:
                self.lots[index] = rest
            self.log(
                action,
                f"{account} lot {lot.lot_id}: {take:g} sh paid in cash {pay:,.2f} "
                f"(basis {basis:,.2f}) → {_lot_text(rest)}",
            )
        self._set_holding(account, symbol, self.position(account, symbol))

    def _scale_holdings(self, account: str, symbol: str, factor: float) -> None:
        for i, holding in enumerate(self.holdings):
            if holding.account == account and holding.symbol == symbol:
                self.holdings[i] = holding.model_copy(
                    update={"shares": _shares(holding.shares * factor)}
                )

    def _set_holding(self, account: str, symbol: str, shares: float) -> None:
        for i, holding in enumerate(self.holdings):
            if holding.account == account and holding.symbol == symbol:
                self.holdings[i] = holding.model_copy(update={"shares": _shares(shares)})

    def _add_holding(self, account: str, symbol: str, shares: float, like: str) -> None:
        """A Holdings row for a new symbol, with the asset class of the one it came from,
        when the account lists its holdings (lots alone are enough otherwise)."""
        if not any(h.account == account and h.symbol == like for h in self.holdings) and not any(
            h.account == account and h.symbol == symbol for h in self.holdings
        ):
            return
        for i, holding in enumerate(self.holdings):
            if holding.account == account and holding.symbol == symbol:
                self.holdings[i] = holding.model_copy(
                    update={"shares": _shares(holding.shares + shares)}
                )
                return
        parent = next(h for h in self.holdings if h.account == account and h.symbol == like)
        self.holdings.append(
            Holding(account=account, symbol=symbol, shares=shares, asset_class=parent.asset_class)
        )


def _is_whole(shares: float) -> bool:
    return abs(shares - round(shares)) < 1e-6


def _lot_text(lot: TaxLot) -> str:
    return f"{lot.shares:g} sh, basis {lot.cost_basis:,.2f}, acquired {lot.acquired}"


def realized_totals(realized: list[Realized]) -> dict[str, float]:
    """Short- and long-term gains the actions made taxable, in taxable accounts."""
    out: dict[str, float] = defaultdict(float)
    for item in realized:
        if item.taxable:
            out[item.term] += item.gain
    return dict(out)
