"""Frozen input models: the only validation boundary between a workbook and the engine."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .open_choices import or_plugin
from .types import (
    AccountType,
    ActionStatus,
    ActionType,
    Bool,
    BuyIn,
    ConstraintScope,
    Date,
    Fraction,
    Money,
    MoneyNonNegative,
    NonNegative,
    Number,
    Positive,
    PositiveShares,
    Price,
    PriceSourceName,
    Ratio,
    Shares,
    Symbol,
    SymbolList,
    Text,
    TradeAction,
    to_token,
    to_upper_token,
)


class Row(BaseModel):
    """A row of an input sheet; `row` is its Excel row number, kept for error messages."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    row: int | None = Field(default=None, exclude=True, repr=False)


Strategy = Literal[
    "targets",
    "equal_weight",
    "min_variance",
    "max_sharpe",
    "target_volatility",
    "risk_parity",
    "efficient_return",
    "hrp",
    "black_litterman",
    "min_cvar",
    "glide_path",
]
# Built-in names; an installed plugin may add more (open_choices, docs/plugins.md).
PriceSource = Literal["auto", "yahoo", "cache", "sheet"]
LotMethod = Literal["min_tax", "hifo", "fifo", "lifo", "average"]


ProposalStatus = Literal["proposed", "approved", "exported", "filled"]


class Settings(BaseModel):
    """Every documented setting with its documented default; blank cells keep the default."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    valuation_date: Date | None = Field(
        None, description="Date prices and holding periods are measured at (blank: today)."
    )
    base_currency: str = Field("USD", description="Label only.")
    price_source: Annotated[
        PriceSource, or_plugin("price_source", PriceSource), BeforeValidator(to_token)
    ] = Field(
        "auto",
        description="auto = Prices sheet manual rows, then local cache, then Yahoo; or yahoo, "
        "cache, sheet; or the name of an installed plugin's feed (docs/plugins.md).",
    )
    strategy: Annotated[Strategy, or_plugin("strategy", Strategy), BeforeValidator(to_token)] = (
        Field(
            "targets",
            description="How target weights are set; 'targets' uses the Targets sheet as "
            "given; or the name of an installed plugin's strategy (docs/plugins.md).",
        )
    )
    model_file: Text | None = Field(
        None,
        description="The firm's model file (.xlsx or .csv, docs/model.md): its targets "
        "replace this workbook's Targets, its Securities sheet gives each fund's asset "
        "class, the fund to buy per class, substitutes and identical funds. A path "
        "relative to this workbook's folder, or absolute.",
    )
    risk_free_rate: Number = Field(0.02, description="Annual risk-free rate.")
    # At most 80 years of trading days: a longer lookback is a typing slip.
    lookback_days: Annotated[int, Field(gt=1, le=20_000)] = Field(
        756, description="Trading days of price history for estimates."
    )
    covariance: Annotated[Literal["sample", "ledoit_wolf", "ewma"], BeforeValidator(to_token)] = (
        Field("ledoit_wolf", description="Covariance estimator.")
    )
    risk_factors: Annotated[int, Field(ge=1, le=200)] | None = Field(
        None,
        description=(
            "For hundreds of assets: optimize on this many principal components of the "
            "covariance (faster, an approximation); blank: the full estimate."
        ),
    )
    expected_returns: Annotated[
        Literal["mean", "ewma", "capm", "equilibrium"], BeforeValidator(to_token)
    ] = Field("ewma", description="Expected-return estimator.")
    target_volatility: Positive | None = Field(
        None, description="Annual volatility, for strategy target_volatility."
    )
    user_age: Annotated[int, Field(ge=0, le=120)] | None = Field(
        None, description="Age, for strategy glide_path."
    )
    target_return: Number | None = Field(
        None, description="Annual expected return, for strategy efficient_return."
    )
    cvar_confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = Field(
        0.95, description="Confidence level of CVaR, for strategy min_cvar (daily losses)."
    )
    hrp_linkage: Annotated[
        Literal["single", "ward", "complete", "average"], BeforeValidator(to_token)
    ] = Field("single", description="Clustering linkage, for strategy hrp.")
    bl_tau: Positive = Field(0.05, description="Black-Litterman prior uncertainty τ.")
    bl_prior: Annotated[Literal["equal", "targets"], BeforeValidator(to_token)] = Field(
        "equal",
        description=(
            "Black-Litterman prior portfolio: equal weights, or the Targets weights "
            "(type market-cap weights there for a market-cap prior)."
        ),
    )
    trigger: Annotated[Literal["bands", "calendar", "always"], BeforeValidator(to_token)] = Field(
        "bands",
        description="When to rebalance: when a position leaves its band, on a calendar, or always.",
    )
    calendar: Annotated[Literal["monthly", "quarterly", "annually"], BeforeValidator(to_token)] = (
        Field("quarterly", description="Period for trigger = calendar.")
    )
    last_rebalanced: Date | None = Field(
        None, description="Date of the last rebalance, for calendar triggers."
    )
    band_abs: Fraction = Field(
        0.05, description="Absolute drift band (0.05 = 5 percentage points)."
    )
    band_rel: NonNegative = Field(
        0.25,
        description="Relative band: out of band when |drift| > min(band_abs, band_rel × target).",
    )
    rebalance_to: Annotated[Literal["target", "band_edge"], BeforeValidator(to_token)] = Field(
        "target", description="Trade back to the target, or only to the edge of the band."
    )
    rebalance_mode: Annotated[
        Literal["full", "buy_only", "sell_only"], BeforeValidator(to_token)
    ] = Field(
        "full",
        description="full: buy and sell; buy_only: invest cash and deposits, never sell; "
        "sell_only: raise a withdrawal, never buy.",
    )
    min_trade_value: MoneyNonNegative | None = Field(
        None,
        description="Trades smaller than this (money) are dropped (blank: 0.1% of the "
        "household's value, at least 100 and at most 2,500).",
    )
    whole_shares: Bool = Field(True, description="Trade whole shares only.")
    share_decimals: Annotated[int, Field(ge=0, le=6)] = Field(
        3,
        description="With whole_shares FALSE: decimals of a share on every BUY and SELL row "
        "(3 is what brokers take for fractional orders); a lot sold in full keeps its own count.",
    )
    cash_min: Fraction = Field(0.0, description="Lowest allowed post-trade cash weight.")
    cash_max: Fraction = Field(1.0, description="Highest allowed post-trade cash weight.")
    infeasible: Annotated[Literal["stop", "relax"], BeforeValidator(to_token)] = Field(
        "stop",
        description="When no trade list meets every limit (cash_min/cash_max, max_turnover, "
        "max_realized_gain, min/max weights): stop with an error naming them, or relax "
        "them as little as possible and warn.",
    )
    cash_flow: Money = Field(
        0.0,
        description="Deposit (+) or withdrawal (−) to handle in this rebalance, in the first "
        "account (shorthand for one CashFlows row; flows to other accounts go on CashFlows).",
    )
    max_turnover: NonNegative | None = Field(
        None, description="Cap on (buys + sells) / 2 / total value."
    )
    cost_bps: NonNegative = Field(
        5.0, description="Estimated cost per trade, basis points of trade value."
    )
    ticket_cost: MoneyNonNegative = Field(
        5.0,
        description="Cost of one trade (commission, the adviser's time) the trade objective "
        "counts: a trade must close more drift than it costs.",
    )
    risk_aversion: Annotated[Fraction, Field(le=1)] = Field(
        0.1,
        description="Money the trade objective charges per money a line stays off its target "
        "inside its band (outside the band: 1). 0.1 pays up to 20 cents of tax and costs to "
        "move a dollar from an overweight line to an underweight one inside the bands.",
    )
    in_band_gains: Annotated[Literal["avoid", "allow"], BeforeValidator(to_token)] = Field(
        "avoid",
        description="avoid: no tax is paid to move a line that is inside its band (the "
        "plan costs no more tax than moving only what is beyond the bands; IRAs, losses "
        "and new money still may); allow: risk_aversion may pay tax for those moves, and "
        "the Summary shows how much.",
    )
    lot_method: Annotated[LotMethod, BeforeValidator(to_token)] = Field(
        "min_tax",
        description="Which lots to sell: min_tax, hifo, fifo or lifo; average for funds "
        "held under the average-cost method (each share at the position's average basis, "
        "sold first-in, first-out for the holding period).",
    )
    st_tax_rate: Fraction = Field(0.37, description="Short-term capital gains tax rate.")
    lt_tax_rate: Fraction = Field(0.20, description="Long-term capital gains tax rate.")
    filing_status: Annotated[
        Literal["single", "married_joint", "married_separate", "head_of_household"],
        BeforeValidator(to_token),
    ] = Field(
        "single",
        description="Filing status: a net capital loss offsets at most $3,000 of ordinary "
        "income a year ($1,500 married_separate).",
    )
    realized_st_ytd: Money | None = Field(
        None,
        description="Short-term gain (loss negative) already realized this tax year, before "
        "this run (blank: the year's SELL rows on Transactions).",
    )
    realized_lt_ytd: Money | None = Field(
        None,
        description="Long-term gain (loss negative) already realized this tax year, before "
        "this run (blank: the year's SELL rows on Transactions).",
    )
    st_loss_carryover: MoneyNonNegative = Field(
        0.0,
        description="Short-term capital loss carried into this year (Schedule D line 6).",
    )
    lt_loss_carryover: MoneyNonNegative = Field(
        0.0,
        description="Long-term capital loss carried into this year (Schedule D line 14).",
    )
    max_realized_gain: MoneyNonNegative | None = Field(
        None,
        description="Cap on net realized gains of this rebalance (money; 0: no net gain). "
        "A cap below 0 would demand losses, which a cap cannot promise, so it is refused.",
    )
    tlh_min_loss: MoneyNonNegative = Field(
        500.0, description="Smallest lot loss worth harvesting (money)."
    )
    tlh_min_loss_pct: Fraction = Field(
        0.05, description="Smallest lot loss worth harvesting (fraction of basis)."
    )
    wash_sale_days: Annotated[int, Field(ge=0, le=366)] = Field(
        30, description="Wash-sale window, days before and after a loss sale."
    )
    reinvest_dividends: Bool = Field(
        False,
        description=(
            "apply-actions: reinvest cash dividends in whole shares (at NewSymbolPrice, "
            "else the latest price) as a new lot dated EffectiveDate."
        ),
    )
    allow_wash_sales: Bool = Field(
        False,
        description=(
            "Allow trades that wash a loss on record (the disallowed loss then moves "
            "into the replacement's basis, as the IRS moves it); a loss sold in this "
            "run is never bought back in the same run."
        ),
    )
    order_format: Annotated[
        Literal["csv", "ibkr", "fidelity", "schwab"], BeforeValidator(to_token)
    ] = Field(
        "csv",
        description=(
            "Export Orders button: csv (generic, with lot instructions), ibkr (TWS basket), "
            "fidelity (Wealthscape), schwab (orders and lot instructions)."
        ),
    )
    stale_price_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        5, description="A price older than this many trading days gets a warning."
    )
    client_name: Text | None = Field(
        None, description="The client's name, printed on the Report page and its PDF."
    )
    firm_name: Text | None = Field(
        None, description="The adviser's firm, printed on the Report page and its PDF."
    )
    disclosure: Text | None = Field(
        None,
        description="Disclosure text printed at the foot of the Report page and its PDF.",
    )
    household: Text | None = Field(
        None,
        description="batch: workbooks with the same household id (spouses) are checked "
        "together for wash sales (IRS Pub. 550: a spouse's purchase counts).",
    )
    do_not_trade: Bool = Field(
        False,
        description="TRUE: trade nothing in this household (a pending transfer, the client's "
        "request): a run reports the drift and proposes no trade, and export-orders and "
        "batch leave it out. One account alone: the Accounts sheet's DoNotTrade.",
    )
    proposal_status: Annotated[ProposalStatus, BeforeValidator(to_token)] | None = Field(
        None,
        description="Where the Trades sheet's proposal stands: proposed (blank), approved "
        "(type it, or `xl-rebalancer approve`), exported (written by export-orders) or filled "
        "(written by record-fills). An exported proposal is not exported again, and a run "
        "does not replace it until its fills are recorded.",
    )
    proposal_id: Text | None = Field(
        None,
        description="The checksum of the proposal proposal_status is about (written with it); "
        "blank with approved: the Trades sheet as it stands. A new run's proposal has another "
        "checksum, so it starts as proposed.",
    )

    @classmethod
    def choices(cls, name: str) -> list[str]:
        """Allowed values of an enumerated setting, for dropdowns and messages."""
        for arg in _flatten(cls.model_fields[name].annotation):
            if getattr(arg, "__origin__", None) is Literal or repr(arg).startswith(
                "typing.Literal"
            ):
                return [str(a) for a in get_args(arg)]
        return []

    @classmethod
    def is_bool(cls, name: str) -> bool:
        return any(a is bool for a in _flatten(cls.model_fields[name].annotation))


def _flatten(annotation: object) -> list[object]:
    out: list[object] = [annotation]
    for arg in get_args(annotation):
        out.extend(_flatten(arg))
    return out


class Account(Row):
    account: Text
    type: AccountType
    cash: Money = 0.0
    broker_account: Text | None = None
    broker: Text | None = None
    broker_name: Text | None = None
    do_not_trade: Bool = False

    @property
    def taxable(self) -> bool:
        return self.type == "taxable"


class CashFlow(Row):
    account: Text
    amount: Money
    note: Text | None = None
    applied_on: Date | None = None  # record-fills moved it into Cash: done


class Holding(Row):
    account: Text
    symbol: Symbol
    shares: Shares
    asset_class: Text | None = None


class TaxLot(Row):
    account: Text
    symbol: Symbol
    lot_id: Text
    acquired: Date
    shares: Shares
    cost_basis: MoneyNonNegative
    wash_adjustment: Money = 0.0
    holding_start: Date | None = None
    # Inherited property is long-term whenever sold (IRC §1223(9)).
    inherited: Bool = False
    lock: Annotated[Literal["lock", "sell"], BeforeValidator(to_token)] | None = None

    @property
    def holding_from(self) -> dt.date:
        """The date the holding period runs from (carried over from a washed lot if given)."""
        return self.holding_start or self.acquired


class Target(Row):
    symbol: Symbol | None = None
    asset_class: Text | None = None
    target_weight: Fraction
    band_abs: Fraction | None = None
    band_rel: NonNegative | None = None
    substitute: Symbol | None = None
    min_weight: Fraction | None = None
    max_weight: Fraction | None = None
    identical_to: SymbolList | None = None
    location: AccountType | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Target:
        if (self.symbol is None) == (self.asset_class is None):
            raise ValueError("give either Symbol or AssetClass (exactly one)")
        return self

    @property
    def key(self) -> str:
        return self.symbol if self.symbol is not None else str(self.asset_class)


class Security(Row):
    """A fund in the firm's security master (the model file's Securities sheet): its
    asset class, whether it is the fund to buy for that class (and in which account
    types), what replaces it after a loss sale, and what the IRS may see as the same."""

    symbol: Symbol
    asset_class: Text | None = None
    buy: BuyIn = None
    substitute: Symbol | None = None
    identical_to: SymbolList | None = None
    name: Text | None = None


class Constraint(Row):
    scope: ConstraintScope
    name: Text
    min_weight: Fraction | None = None
    max_weight: Fraction | None = None
    no_buy: Bool = False
    no_sell: Bool = False


class CorporateAction(Row):
    action_id: Text
    type: ActionType
    symbol: Symbol
    effective_date: Date
    ratio: Ratio | None = None
    cash_per_share: MoneyNonNegative | None = None
    new_symbol: Symbol | None = None
    basis_allocation: Fraction | None = None
    new_symbol_price: Price | None = None
    status: ActionStatus = "pending"
    applied_on: Date | None = None
    taxable: Bool = False


class Transaction(Row):
    date: Date
    account: Text
    symbol: Symbol
    action: TradeAction
    shares: PositiveShares
    price: MoneyNonNegative | None = None
    realized_gain: Money | None = None
    # For the Realized sheet and the year's netting: when the sold shares were bought,
    # their basis, and the term (blank: from Acquired).
    acquired: Date | None = None
    cost_basis: Money | None = None
    term: Annotated[Literal["ST", "LT"], BeforeValidator(to_upper_token)] | None = None
    ref: Text | None = None


class Identical(Row):
    symbol: Symbol
    identical_to: SymbolList


class View(Row):
    asset: Symbol
    relative_to: Symbol | None = None
    expected_return: Number
    confidence: Fraction | None = None


class PriceRow(Row):
    symbol: Symbol
    price: Price
    as_of: Date | None = None
    source: PriceSourceName = "manual"


class Portfolio(BaseModel):
    """Everything the engine needs from one workbook, already validated."""

    model_config = ConfigDict(frozen=True)

    settings: Settings = Settings()
    accounts: tuple[Account, ...] = ()
    cash_flows: tuple[CashFlow, ...] = ()
    holdings: tuple[Holding, ...] = ()
    lots: tuple[TaxLot, ...] = ()
    targets: tuple[Target, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    actions: tuple[CorporateAction, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    identical: tuple[Identical, ...] = ()
    views: tuple[View, ...] = ()
    prices: tuple[PriceRow, ...] = ()
    # The model file's security master (Settings model_file); empty without one.
    securities: tuple[Security, ...] = ()

    def buy_funds(self) -> dict[str, tuple[str, ...]]:
        """The model's funds to buy per asset class (upper-cased class), for a class the
        household holds no fund of: those its Buy cell allows in one of its accounts."""
        types = {a.type for a in self.accounts}
        out: dict[str, tuple[str, ...]] = {}
        for sec in self.securities:
            if sec.buy and sec.asset_class and types.intersection(sec.buy):
                key = sec.asset_class.upper()
                out[key] = (*out.get(key, ()), sec.symbol)
        return out

    def unheld_class_funds(self) -> list[str]:
        """The Buy funds of each targeted asset class no held fund belongs to: what the
        plan buys for that class, so they must be priced like the symbols held."""
        held = {x.symbol for x in (*self.holdings, *self.lots)}
        classes = {s.upper() for sym, s in _classes(self).items() if sym in held}
        funds = self.buy_funds()
        out: dict[str, None] = {}
        for t in self.targets:
            key = str(t.asset_class or "").upper()
            if t.asset_class and key != "CASH" and t.target_weight > 0 and key not in classes:
                out.update(dict.fromkeys(funds.get(key, ())))
        return list(out)

    def flows(self) -> dict[str, float]:
        """Money in (+) or out (−) of each account in this run: the CashFlows rows, plus
        the cash_flow setting as the first account's shorthand (a workbook from before
        the CashFlows sheet keeps working)."""
        out: dict[str, float] = {}
        for flow in self.cash_flows:
            if flow.applied_on is None:  # an applied flow is in Cash already
                out[flow.account] = out.get(flow.account, 0.0) + flow.amount
        if self.settings.cash_flow and self.accounts:
            first = self.accounts[0].account
            out[first] = out.get(first, 0.0) + self.settings.cash_flow
        return {a: v for a, v in out.items() if v}

    def symbols(self) -> list[str]:
        """Every symbol the workbook holds or targets, in first-seen order."""
        seen: dict[str, None] = {}
        for item in (*self.holdings, *self.lots):
            seen.setdefault(item.symbol, None)
        for target in self.targets:
            if target.symbol and target.symbol != "CASH":
                seen.setdefault(target.symbol, None)
        for symbol in self.unheld_class_funds():
            seen.setdefault(symbol, None)
        return list(seen)


def _classes(portfolio: Portfolio) -> dict[str, str]:
    """Asset class of each symbol: its Holdings row's, else the model's security master."""
    classes: dict[str, str] = {}
    for holding in portfolio.holdings:
        if holding.asset_class:
            classes.setdefault(holding.symbol, holding.asset_class)
    for sec in portfolio.securities:
        if sec.asset_class:
            classes.setdefault(sec.symbol, sec.asset_class)
    return classes
