"""Every sheet, table and column name of the workbook contract, in one place.

Reader, writer, template builder and tests all take names from here, so a rename
happens once. Headers match case-insensitively, ignoring spaces and underscores.
"""

from __future__ import annotations

from dataclasses import dataclass

# Number formats shared by the writer and the template.
FMT_MONEY = "#,##0.00;[Red]-#,##0.00"
FMT_PRICE = "#,##0.0000"
FMT_SHARES = "#,##0.######"
FMT_PCT = "0.00%"
FMT_DATE = "yyyy-mm-dd"
FMT_DATETIME = "yyyy-mm-dd hh:mm:ss"
FMT_RATIO = "0.######"


def normalize_header(text: object) -> str:
    """The contract's matching rule: case, spaces and underscores do not count."""
    return "".join(str(text).split()).replace("_", "").lower() if text is not None else ""


@dataclass(frozen=True)
class Column:
    """A contract column: the header as written, the model field and the display format."""

    header: str
    field: str
    required: bool = False
    number_format: str | None = None
    width: float | None = None
    description: str = ""

    @property
    def key(self) -> str:
        return normalize_header(self.header)


@dataclass(frozen=True)
class SheetSpec:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    description: str = ""

    @property
    def table(self) -> str:
        return f"tbl{self.name}"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, field_name: str) -> Column:
        for col in self.columns:
            if col.field == field_name:
                return col
        raise KeyError(field_name)


C = Column

# ---------------------------------------------------------------- input sheets
SETTINGS = SheetSpec(
    "Settings",
    (
        C("Setting", "setting", required=True, width=22),
        C("Value", "value", width=18),
        C("Description", "description", width=90),
    ),
    description="Key/value settings; blank values take the documented default.",
)

ACCOUNTS = SheetSpec(
    "Accounts",
    (
        C("Account", "account", required=True, width=18),
        C("Type", "type", required=True, width=14),
        C("Cash", "cash", number_format=FMT_MONEY, width=14),
        # Not in the contract: the broker's account number (`...1234`, `X12345678`), so
        # `import` remembers which download belongs to which account.
        C("BrokerAccount", "broker_account", width=16),
    ),
    required=True,
    description="One row per account: taxable, tax_deferred or tax_exempt.",
)

HOLDINGS = SheetSpec(
    "Holdings",
    (
        C("Account", "account", required=True, width=18),
        C("Symbol", "symbol", required=True, width=10),
        C("Shares", "shares", required=True, number_format=FMT_SHARES, width=12),
        C("AssetClass", "asset_class", width=18),
    ),
    description="Positions per account; may be left out where TaxLots cover them.",
)

TAX_LOTS = SheetSpec(
    "TaxLots",
    (
        C("Account", "account", required=True, width=18),
        C("Symbol", "symbol", required=True, width=10),
        C("LotId", "lot_id", required=True, width=12),
        C("Acquired", "acquired", required=True, number_format=FMT_DATE, width=12),
        C("Shares", "shares", required=True, number_format=FMT_SHARES, width=12),
        C("CostBasis", "cost_basis", required=True, number_format=FMT_MONEY, width=14),
        C("WashAdjustment", "wash_adjustment", number_format=FMT_MONEY, width=15),
        C("HoldingStart", "holding_start", number_format=FMT_DATE, width=13),
        # Not in the contract: TRUE for an inherited lot, long-term whenever sold.
        C("Inherited", "inherited", width=10),
        # Not in the contract: `lock` keeps a lot whatever happens; `sell` sells it now.
        C("Lock", "lock", width=8),
    ),
    description="Tax lots; CostBasis is the lot's total basis.",
)

TARGETS = SheetSpec(
    "Targets",
    (
        C("Symbol", "symbol", width=10),
        C("AssetClass", "asset_class", width=18),
        C("TargetWeight", "target_weight", required=True, number_format=FMT_PCT, width=13),
        C("BandAbs", "band_abs", number_format=FMT_PCT, width=10),
        C("BandRel", "band_rel", number_format=FMT_PCT, width=10),
        C("Substitute", "substitute", width=11),
        C("MinWeight", "min_weight", number_format=FMT_PCT, width=11),
        C("MaxWeight", "max_weight", number_format=FMT_PCT, width=11),
        # Not in the contract: the symbols a careful manager treats as substantially
        # identical to this one (VOO, IVV), so buying either washes a loss on the other.
        C("IdenticalTo", "identical_to", width=14),
        # Not in the contract: the account type this asset belongs in when targets are
        # household-wide (asset location), e.g. tax_deferred for bonds and REITs.
        C("Location", "location", width=13),
    ),
    description="Target weights by Symbol or by AssetClass; they add up to 1.",
)

CONSTRAINTS = SheetSpec(
    "Constraints",
    (
        C("Scope", "scope", required=True, width=12),
        C("Name", "name", required=True, width=18),
        C("MinWeight", "min_weight", number_format=FMT_PCT, width=11),
        C("MaxWeight", "max_weight", number_format=FMT_PCT, width=11),
        C("NoBuy", "no_buy", width=8),
        C("NoSell", "no_sell", width=8),
    ),
    description="Limits that bind the optimizer and the rebalance alike.",
)

CORPORATE_ACTIONS = SheetSpec(
    "CorporateActions",
    (
        C("ActionId", "action_id", required=True, width=12),
        C("Type", "type", required=True, width=15),
        C("Symbol", "symbol", required=True, width=10),
        C("EffectiveDate", "effective_date", required=True, number_format=FMT_DATE, width=13),
        C("Ratio", "ratio", number_format=FMT_RATIO, width=10),
        C("CashPerShare", "cash_per_share", number_format=FMT_PRICE, width=13),
        C("NewSymbol", "new_symbol", width=11),
        C("BasisAllocation", "basis_allocation", number_format=FMT_PCT, width=15),
        C("NewSymbolPrice", "new_symbol_price", number_format=FMT_PRICE, width=15),
        C("Status", "status", width=10),
        C("AppliedOn", "applied_on", number_format=FMT_DATE, width=12),
        # Not in the contract: TRUE for a merger that is a fully taxable sale (CVS/Aetna
        # 2018) rather than a reorganization; see engine/actions.py.
        C("Taxable", "taxable", width=9),
    ),
    description="Splits, dividends, mergers, spin-offs and symbol changes to apply to lots.",
)

TRANSACTIONS = SheetSpec(
    "Transactions",
    (
        C("Date", "date", required=True, number_format=FMT_DATE, width=12),
        C("Account", "account", required=True, width=18),
        C("Symbol", "symbol", required=True, width=10),
        C("Action", "action", required=True, width=8),
        C("Shares", "shares", required=True, number_format=FMT_SHARES, width=12),
        C("Price", "price", number_format=FMT_PRICE, width=12),
        C("RealizedGain", "realized_gain", number_format=FMT_MONEY, width=14),
        # Not in the contract: what Form 8949 needs of a past sale (the Realized sheet).
        C("Acquired", "acquired", number_format=FMT_DATE, width=12),
        C("CostBasis", "cost_basis", number_format=FMT_MONEY, width=14),
        C("Term", "term", width=6),
        # Not in the contract: where the row came from (an OFX FITID, an IBKR trade id, a
        # recorded fill), so importing or recording the same thing twice adds nothing.
        C("Ref", "ref", width=24),
    ),
    description="Recent trades, for wash-sale checks and the year's realized gains.",
)

VIEWS = SheetSpec(
    "Views",
    (
        C("Asset", "asset", required=True, width=10),
        C("RelativeTo", "relative_to", width=11),
        C("ExpectedReturn", "expected_return", required=True, number_format=FMT_PCT, width=15),
        C("Confidence", "confidence", number_format=FMT_PCT, width=11),
    ),
    description="Black-Litterman views (absolute, or relative to another asset).",
)

PRICES = SheetSpec(
    "Prices",
    (
        C("Symbol", "symbol", required=True, width=10),
        C("Price", "price", required=True, number_format=FMT_PRICE, width=12),
        C("AsOf", "as_of", number_format=FMT_DATE, width=12),
        C("Source", "source", width=10),
    ),
    description="Latest prices; rows with Source = manual win over any feed.",
)

INPUT_SHEETS: tuple[SheetSpec, ...] = (
    SETTINGS,
    ACCOUNTS,
    HOLDINGS,
    TAX_LOTS,
    TARGETS,
    CONSTRAINTS,
    CORPORATE_ACTIONS,
    TRANSACTIONS,
    VIEWS,
    PRICES,
)

# --------------------------------------------------------------- output sheets
DRIFT = SheetSpec(
    "Drift",
    (
        C("AssetClass", "asset_class", width=18),
        C("Symbol", "symbol", width=10),
        C("Value", "value", number_format=FMT_MONEY, width=14),
        C("Weight", "weight", number_format=FMT_PCT, width=9),
        C("TargetWeight", "target_weight", number_format=FMT_PCT, width=13),
        C("Drift", "drift", number_format=FMT_PCT, width=9),
        C("RelativeDrift", "relative_drift", number_format=FMT_PCT, width=13),
        C("Band", "band", number_format=FMT_PCT, width=9),
        C("OutOfBand", "out_of_band", width=11),
        C("PostTradeWeight", "post_trade_weight", number_format=FMT_PCT, width=16),
    ),
)

TRADES = SheetSpec(
    "Trades",
    (
        C("Account", "account", width=16),
        C("Symbol", "symbol", width=10),
        C("Action", "action", width=8),
        C("Shares", "shares", number_format=FMT_SHARES, width=10),
        C("Price", "price", number_format=FMT_PRICE, width=11),
        C("Value", "value", number_format=FMT_MONEY, width=13),
        C("LotId", "lot_id", width=10),
        C("Acquired", "acquired", number_format=FMT_DATE, width=12),
        C("CostBasis", "cost_basis", number_format=FMT_MONEY, width=13),
        C("RealizedGain", "realized_gain", number_format=FMT_MONEY, width=13),
        C("Term", "term", width=6),
        C("EstTax", "est_tax", number_format=FMT_MONEY, width=11),
        C("EstCost", "est_cost", number_format=FMT_MONEY, width=10),
        C("Reason", "reason", width=40),
    ),
)

TAX_HARVEST = SheetSpec(
    "TaxHarvest",
    (
        C("Account", "account", width=16),
        C("Symbol", "symbol", width=10),
        C("LotId", "lot_id", width=10),
        C("Shares", "shares", number_format=FMT_SHARES, width=10),
        C("Price", "price", number_format=FMT_PRICE, width=11),
        C("UnrealizedLoss", "unrealized_loss", number_format=FMT_MONEY, width=15),
        C("Term", "term", width=6),
        C("Substitute", "substitute", width=11),
        C("WashSale", "wash_sale", width=10),
        C("BlockedBy", "blocked_by", width=40),
        C("EstTaxSaving", "est_tax_saving", number_format=FMT_MONEY, width=13),
    ),
)

REALIZED = SheetSpec(
    "Realized",
    (
        C("Part", "part", width=6),
        C("Description", "description", width=40),
        C("Account", "account", width=16),
        C("DateAcquired", "date_acquired", number_format=FMT_DATE, width=13),
        C("DateSold", "date_sold", number_format=FMT_DATE, width=12),
        C("Proceeds", "proceeds", number_format=FMT_MONEY, width=14),
        C("CostBasis", "cost_basis", number_format=FMT_MONEY, width=14),
        C("Code", "code", width=6),
        C("Adjustment", "adjustment", number_format=FMT_MONEY, width=13),
        C("GainLoss", "gain_loss", number_format=FMT_MONEY, width=14),
        C("Source", "source", width=30),
    ),
    description="The tax year's sales in Form 8949's layout, with each Part's totals.",
)

SUMMARY = SheetSpec(
    "Summary",
    (
        C("Key", "key", width=30),
        C("Value", "value", width=24),
    ),
)

LOG = SheetSpec(
    "Log",
    (
        C("Time", "time", number_format=FMT_DATETIME, width=20),
        C("Level", "level", width=8),
        C("Sheet", "sheet", width=16),
        C("Cell", "cell", width=8),
        C("Message", "message", width=100),
    ),
)

OPTIMIZED_TARGETS = SheetSpec(
    "OptimizedTargets",
    (
        C("Symbol", "symbol", width=12),
        C("Weight", "weight", number_format=FMT_PCT, width=10),
        C("ExpectedReturn", "expected_return", number_format=FMT_PCT, width=15),
        C("Volatility", "volatility", number_format=FMT_PCT, width=11),
        C("RiskContribution", "risk_contribution", number_format=FMT_PCT, width=17),
        C("Sharpe", "sharpe", number_format="0.000", width=9),
    ),
)

REPORT = SheetSpec(
    "Report",
    (),
    description=(
        "The proposal on one printed page: the household before and after by asset class "
        "and by account, tax and costs, the largest trades and the losses to harvest."
    ),
)

OUTPUT_SHEETS: tuple[SheetSpec, ...] = (
    DRIFT,
    TRADES,
    TAX_HARVEST,
    REALIZED,
    SUMMARY,
    LOG,
    OPTIMIZED_TARGETS,
    REPORT,
)
INSTRUCTIONS = "Instructions"
