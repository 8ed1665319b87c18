"""Every sheet, table and column name of the workbook contract, in one place.

Reader, writer, template builder and tests all take names from here, so a rename
happens once. Headers match case-insensitively, ignoring spaces and underscores. What
each sheet and column means, in the user's words, is in workbook/schema_docs.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .schema_docs import COLUMN_DOCS, SHEET_DOCS

# Excel's default body font, named on every styled cell: a font without a name is drawn
# in LibreOffice's default serif.
BODY_FONT = "Calibri"
# Number formats shared by the writer and the template. Money keeps a parenthesis' width
# clear on its right (`_)`): right-aligned amounts otherwise touch the left-aligned text
# of the next column ("6,085.00IJR-1" on Trades).
FMT_MONEY = "#,##0.00_);[Red]-#,##0.00_)"
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
    # The table's name when the sheet is written under another title (an engine sheet
    # beside a user's sheet of its name: workbook/engine_sheets.py).
    table_name: str | None = None

    @property
    def table(self) -> str:
        return self.table_name or f"tbl{self.name}"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, field_name: str) -> Column:
        for col in self.columns:
            if col.field == field_name:
                return col
        raise KeyError(field_name)


def _documented(spec: SheetSpec) -> SheetSpec:
    """The spec with its words (workbook/schema_docs.py) on the sheet and each column."""
    words = COLUMN_DOCS.get(spec.name, {})
    columns = tuple(replace(c, description=words.get(c.field, "")) for c in spec.columns)
    return replace(spec, columns=columns, description=SHEET_DOCS.get(spec.name, ""))


C = Column

# ---------------------------------------------------------------- input sheets
SETTINGS = _documented(
    SheetSpec(
        "Settings",
        (
            C("Setting", "setting", required=True, width=22),
            C("Value", "value", width=18),
            C("Description", "description", width=90),
        ),
    )
)

ACCOUNTS = _documented(
    SheetSpec(
        "Accounts",
        (
            C("Account", "account", required=True, width=18),
            C("Type", "type", required=True, width=14),
            C("Cash", "cash", number_format=FMT_MONEY, width=14),
            # Not in the contract: the broker's account number (`...1234`, `X12345678`), so
            # `import` remembers which download belongs to which account.
            C("BrokerAccount", "broker_account", width=16),
            C("Broker", "broker", width=10),
            C("BrokerName", "broker_name", width=16),
            C("DoNotTrade", "do_not_trade", width=11),
        ),
        required=True,
    )
)

CASH_FLOWS = _documented(
    SheetSpec(
        "CashFlows",
        (
            C("Account", "account", required=True, width=18),
            C("Amount", "amount", required=True, number_format=FMT_MONEY, width=14),
            C("Note", "note", width=24),
            C("AppliedOn", "applied_on", number_format=FMT_DATE, width=12),
        ),
    )
)

HOLDINGS = _documented(
    SheetSpec(
        "Holdings",
        (
            C("Account", "account", required=True, width=18),
            C("Symbol", "symbol", required=True, width=10),
            C("Shares", "shares", required=True, number_format=FMT_SHARES, width=12),
            C("AssetClass", "asset_class", width=18),
        ),
    )
)

TAX_LOTS = _documented(
    SheetSpec(
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
    )
)

TARGETS = _documented(
    SheetSpec(
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
    )
)

CONSTRAINTS = _documented(
    SheetSpec(
        "Constraints",
        (
            C("Scope", "scope", required=True, width=12),
            C("Name", "name", required=True, width=18),
            C("MinWeight", "min_weight", number_format=FMT_PCT, width=11),
            C("MaxWeight", "max_weight", number_format=FMT_PCT, width=11),
            C("NoBuy", "no_buy", width=8),
            C("NoSell", "no_sell", width=8),
        ),
    )
)

CORPORATE_ACTIONS = _documented(
    SheetSpec(
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
    )
)

TRANSACTIONS = _documented(
    SheetSpec(
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
    )
)

VIEWS = _documented(
    SheetSpec(
        "Views",
        (
            C("Asset", "asset", required=True, width=10),
            C("RelativeTo", "relative_to", width=11),
            C("ExpectedReturn", "expected_return", required=True, number_format=FMT_PCT, width=15),
            C("Confidence", "confidence", number_format=FMT_PCT, width=11),
        ),
    )
)

IDENTICAL = _documented(
    SheetSpec(
        "Identical",
        (
            C("Symbol", "symbol", required=True, width=10),
            C("IdenticalTo", "identical_to", required=True, width=24),
        ),
    )
)

PRICES = _documented(
    SheetSpec(
        "Prices",
        (
            C("Symbol", "symbol", required=True, width=10),
            C("Price", "price", required=True, number_format=FMT_PRICE, width=12),
            C("AsOf", "as_of", number_format=FMT_DATE, width=12),
            C("Source", "source", width=10),
        ),
    )
)

# ----------------------------------------------------- the firm's model file
# Not a workbook sheet: the security master of a model file (docs/model.md), read with
# the model's Targets sheet (the workbook's TARGETS spec) by workbook/model_file.load_model.
SECURITIES = _documented(
    SheetSpec(
        "Securities",
        (
            C("Symbol", "symbol", required=True, width=10),
            C("AssetClass", "asset_class", width=18),
            C("Buy", "buy", width=16),
            C("Substitute", "substitute", width=11),
            C("IdenticalTo", "identical_to", width=24),
            C("Name", "name", width=32),
        ),
    )
)

INPUT_SHEETS: tuple[SheetSpec, ...] = (
    SETTINGS,
    ACCOUNTS,
    CASH_FLOWS,
    HOLDINGS,
    TAX_LOTS,
    TARGETS,
    CONSTRAINTS,
    CORPORATE_ACTIONS,
    TRANSACTIONS,
    IDENTICAL,
    VIEWS,
    PRICES,
)

# --------------------------------------------------------------- output sheets
DRIFT = _documented(
    SheetSpec(
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
)

TRADES = _documented(
    SheetSpec(
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
            C("HoldingStart", "holding_start", number_format=FMT_DATE, width=12),
        ),
    )
)

TAX_HARVEST = _documented(
    SheetSpec(
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
)

REALIZED = _documented(
    SheetSpec(
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
    )
)

SUMMARY = _documented(
    SheetSpec("Summary", (C("Key", "key", width=30), C("Value", "value", width=24)))
)

LOG = _documented(
    SheetSpec(
        "Log",
        (
            C("Time", "time", number_format=FMT_DATETIME, width=20),
            C("Level", "level", width=8),
            C("Sheet", "sheet", width=16),
            C("Cell", "cell", width=8),
            C("Message", "message", width=100),
        ),
    )
)

OPTIMIZED_TARGETS = _documented(
    SheetSpec(
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
)

REPORT = _documented(SheetSpec("Report", ()))

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
