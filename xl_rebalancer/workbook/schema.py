"""Every sheet, table and column name of the workbook contract, in one place.

Reader, writer, template builder and tests all take names from here, so a rename
happens once. Headers match case-insensitively, ignoring spaces and underscores.
"""

from __future__ import annotations

from dataclasses import dataclass

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


C = Column

# ---------------------------------------------------------------- input sheets
SETTINGS = SheetSpec(
    "Settings",
    (
        C(
            "Setting",
            "setting",
            required=True,
            width=22,
            description="the setting's name (every one is listed with its default under Settings below)",
        ),
        C("Value", "value", width=18, description="its value; blank takes the default"),
        C(
            "Description",
            "description",
            width=90,
            description="what it does (written by the template; not read)",
        ),
    ),
    description="Key/value settings; blank values take the documented default.",
)

ACCOUNTS = SheetSpec(
    "Accounts",
    (
        C(
            "Account",
            "account",
            required=True,
            width=18,
            description="the account's name, as Holdings, TaxLots and Transactions spell it",
        ),
        C(
            "Type",
            "type",
            required=True,
            width=14,
            description="`taxable`, `tax_deferred` or `tax_exempt`; tax lots, realized gains and harvesting apply to taxable accounts",
        ),
        C(
            "Cash",
            "cash",
            number_format=FMT_MONEY,
            width=14,
            description="cash held in the account (money)",
        ),
        # Not in the contract: the broker's account number (`...1234`, `X12345678`), so
        # `import` remembers which download belongs to which account.
        C(
            "BrokerAccount",
            "broker_account",
            width=16,
            description="the broker's account number, remembered by `import`; a masked one "
            "(`...518`) matches the downloads but cannot go into an order file: type the full "
            "number over it",
        ),
        C(
            "Broker",
            "broker",
            width=10,
            description="who holds the account (`fidelity`, `schwab`, `ibkr`, `vanguard`, `ofx`), "
            "remembered by `import` from the file it came from; `export-orders --format` writes "
            "only its broker's accounts",
        ),
        C(
            "BrokerName",
            "broker_name",
            width=16,
            description="the broker's own name for the account (`Joint WROS`), remembered by "
            "`import` (and from `--account NAME=...`): a file that names the account rather "
            "than numbering it is matched by it",
        ),
        C(
            "DoNotTrade",
            "do_not_trade",
            width=11,
            description="TRUE: no trade in this account (a pending transfer, the client's "
            "request); its holdings and cash still count toward the household's drift",
        ),
    ),
    required=True,
    description="One row per account: taxable, tax_deferred or tax_exempt.",
)

CASH_FLOWS = SheetSpec(
    "CashFlows",
    (
        C(
            "Account",
            "account",
            required=True,
            width=18,
            description="an account on the Accounts sheet",
        ),
        C(
            "Amount",
            "amount",
            required=True,
            number_format=FMT_MONEY,
            width=14,
            description="a deposit (positive) or a withdrawal (negative) to handle in this rebalance",
        ),
        C("Note", "note", width=24, description="what the money is for (not used by the engine)"),
        C(
            "AppliedOn",
            "applied_on",
            number_format=FMT_DATE,
            width=12,
            description="the date `record-fills` moved it into (or out of) the account's Cash; "
            "a row with a date is done: the next run does not raise or spend it again",
        ),
    ),
    description="Deposits and withdrawals per account for this rebalance; several rows, "
    "several accounts. The cash_flow setting is a shorthand for one row on the first account. "
    "Recording the run's fills applies them once (AppliedOn; the setting goes back to 0).",
)

HOLDINGS = SheetSpec(
    "Holdings",
    (
        C(
            "Account",
            "account",
            required=True,
            width=18,
            description="an account on the Accounts sheet",
        ),
        C(
            "Symbol",
            "symbol",
            required=True,
            width=10,
            description="the fund's ticker (upper-cased; `CASH` is reserved)",
        ),
        C(
            "Shares",
            "shares",
            required=True,
            number_format=FMT_SHARES,
            width=12,
            description="shares held; TaxLots of the same account and symbol must add up to it",
        ),
        C(
            "AssetClass",
            "asset_class",
            width=18,
            description="the class the fund counts toward when Targets are set by asset class",
        ),
    ),
    description="Positions per account; may be left out where TaxLots cover them.",
)

TAX_LOTS = SheetSpec(
    "TaxLots",
    (
        C(
            "Account",
            "account",
            required=True,
            width=18,
            description="an account on the Accounts sheet",
        ),
        C("Symbol", "symbol", required=True, width=10, description="the fund's ticker"),
        C(
            "LotId",
            "lot_id",
            required=True,
            width=12,
            description="a name for the lot, unique in the workbook",
        ),
        C(
            "Acquired",
            "acquired",
            required=True,
            number_format=FMT_DATE,
            width=12,
            description="the date the lot was bought",
        ),
        C(
            "Shares",
            "shares",
            required=True,
            number_format=FMT_SHARES,
            width=12,
            description="shares left in the lot",
        ),
        C(
            "CostBasis",
            "cost_basis",
            required=True,
            number_format=FMT_MONEY,
            width=14,
            description="the lot's total basis (money), not per share",
        ),
        C(
            "WashAdjustment",
            "wash_adjustment",
            number_format=FMT_MONEY,
            width=15,
            description="the part of CostBasis that is a disallowed wash-sale loss moved in "
            "(already inside CostBasis: never added to it again)",
        ),
        C(
            "HoldingStart",
            "holding_start",
            number_format=FMT_DATE,
            width=13,
            description="the start of the holding period when it is not Acquired (carried over from a washed lot)",
        ),
        # Not in the contract: TRUE for an inherited lot, long-term whenever sold.
        C(
            "Inherited",
            "inherited",
            width=10,
            description="TRUE for an inherited lot: always long-term (IRC 1223(9))",
        ),
        # Not in the contract: `lock` keeps a lot whatever happens; `sell` sells it now.
        C(
            "Lock",
            "lock",
            width=8,
            description="`lock` never sells the lot; `sell` sells all of it in this rebalance",
        ),
    ),
    description="Tax lots; CostBasis is the lot's total basis.",
)

TARGETS = SheetSpec(
    "Targets",
    (
        C(
            "Symbol",
            "symbol",
            width=10,
            description="a fund's target (leave blank on an asset-class row)",
        ),
        C(
            "AssetClass",
            "asset_class",
            width=18,
            description="an asset class's target (leave Symbol blank)",
        ),
        C(
            "TargetWeight",
            "target_weight",
            required=True,
            number_format=FMT_PCT,
            width=13,
            description="the weight of total value, cash included; the rows add up to 1",
        ),
        C(
            "BandAbs",
            "band_abs",
            number_format=FMT_PCT,
            width=10,
            description="this row's absolute drift band (default: Settings band_abs)",
        ),
        C(
            "BandRel",
            "band_rel",
            number_format=FMT_PCT,
            width=10,
            description="this row's relative drift band (default: Settings band_rel)",
        ),
        C(
            "Substitute",
            "substitute",
            width=11,
            description="a fund to buy instead when a wash sale blocks this one",
        ),
        C(
            "MinWeight",
            "min_weight",
            number_format=FMT_PCT,
            width=11,
            description="lowest weight after trades",
        ),
        C(
            "MaxWeight",
            "max_weight",
            number_format=FMT_PCT,
            width=11,
            description="highest weight after trades",
        ),
        # Not in the contract: the symbols a careful manager treats as substantially
        # identical to this one (VOO, IVV), so buying either washes a loss on the other.
        C(
            "IdenticalTo",
            "identical_to",
            width=14,
            description="a symbol the IRS may see as substantially identical (wash sales span both)",
        ),
        # Not in the contract: the account type this asset belongs in when targets are
        # household-wide (asset location), e.g. tax_deferred for bonds and REITs.
        C(
            "Location",
            "location",
            width=13,
            description="the account type the asset belongs in (asset location)",
        ),
    ),
    description="Target weights by Symbol or by AssetClass; they add up to 1.",
)

CONSTRAINTS = SheetSpec(
    "Constraints",
    (
        C(
            "Scope",
            "scope",
            required=True,
            width=12,
            description="`symbol`, `asset_class` or `account`",
        ),
        C(
            "Name",
            "name",
            required=True,
            width=18,
            description="the symbol, asset class or account the row limits",
        ),
        C(
            "MinWeight",
            "min_weight",
            number_format=FMT_PCT,
            width=11,
            description="lowest weight of total value after trades",
        ),
        C(
            "MaxWeight",
            "max_weight",
            number_format=FMT_PCT,
            width=11,
            description="highest weight of total value after trades",
        ),
        C("NoBuy", "no_buy", width=8, description="TRUE: never buy within the scope"),
        C("NoSell", "no_sell", width=8, description="TRUE: never sell within the scope"),
    ),
    description="Limits that bind the optimizer and the rebalance alike.",
)

CORPORATE_ACTIONS = SheetSpec(
    "CorporateActions",
    (
        C(
            "ActionId",
            "action_id",
            required=True,
            width=12,
            description="a name for the action, unique in the workbook",
        ),
        C(
            "Type",
            "type",
            required=True,
            width=15,
            description="`split`, `cash_dividend`, `return_of_capital`, `stock_dividend`, "
            "`merger`, `spinoff` or `symbol_change`",
        ),
        C(
            "Symbol",
            "symbol",
            required=True,
            width=10,
            description="the symbol the action applies to",
        ),
        C(
            "EffectiveDate",
            "effective_date",
            required=True,
            number_format=FMT_DATE,
            width=13,
            description="the ex-date (or effective date) of the action",
        ),
        C(
            "Ratio",
            "ratio",
            number_format=FMT_RATIO,
            width=10,
            description="new shares per old share (a 2-for-1 split is 2)",
        ),
        C(
            "CashPerShare",
            "cash_per_share",
            number_format=FMT_PRICE,
            width=13,
            description="cash paid per share held",
        ),
        C(
            "NewSymbol",
            "new_symbol",
            width=11,
            description="the symbol received (merger, spin-off, symbol change)",
        ),
        C(
            "BasisAllocation",
            "basis_allocation",
            number_format=FMT_PCT,
            width=15,
            description="share of the old basis carried to the new symbol (spin-off)",
        ),
        C(
            "NewSymbolPrice",
            "new_symbol_price",
            number_format=FMT_PRICE,
            width=15,
            description="price of the new symbol, for allocating basis",
        ),
        C(
            "Status",
            "status",
            width=10,
            description="`pending` until `apply-actions` applies it, then `applied`",
        ),
        C(
            "AppliedOn",
            "applied_on",
            number_format=FMT_DATE,
            width=12,
            description="the date `apply-actions` applied it (written by the engine)",
        ),
        # Not in the contract: TRUE for a merger that is a fully taxable sale (CVS/Aetna
        # 2018) rather than a reorganization; see engine/actions.py.
        C(
            "Taxable",
            "taxable",
            width=9,
            description="TRUE for a merger that is a fully taxable sale",
        ),
    ),
    description="Splits, dividends, mergers, spin-offs and symbol changes to apply to lots.",
)

TRANSACTIONS = SheetSpec(
    "Transactions",
    (
        C(
            "Date",
            "date",
            required=True,
            number_format=FMT_DATE,
            width=12,
            description="trade date",
        ),
        C(
            "Account",
            "account",
            required=True,
            width=18,
            description="an account on the Accounts sheet",
        ),
        C("Symbol", "symbol", required=True, width=10, description="the fund's ticker"),
        C("Action", "action", required=True, width=8, description="`BUY` or `SELL`"),
        C(
            "Shares",
            "shares",
            required=True,
            number_format=FMT_SHARES,
            width=12,
            description="shares traded",
        ),
        C("Price", "price", number_format=FMT_PRICE, width=12, description="price per share"),
        C(
            "RealizedGain",
            "realized_gain",
            number_format=FMT_MONEY,
            width=14,
            description="a sale's gain or loss, when the broker reported it",
        ),
        # Not in the contract: what Form 8949 needs of a past sale (the Realized sheet).
        C(
            "Acquired",
            "acquired",
            number_format=FMT_DATE,
            width=12,
            description="a sale's acquisition date (for its term)",
        ),
        C(
            "CostBasis",
            "cost_basis",
            number_format=FMT_MONEY,
            width=14,
            description="a sale's basis (money)",
        ),
        C("Term", "term", width=6, description="`ST` or `LT` for a sale"),
        # Not in the contract: where the row came from (an OFX FITID, an IBKR trade id, a
        # recorded fill), so importing or recording the same thing twice adds nothing.
        C(
            "Ref",
            "ref",
            width=24,
            description="the broker's or engine's reference, so a second import or fill changes nothing",
        ),
    ),
    description="Recent trades, for wash-sale checks and the year's realized gains.",
)

VIEWS = SheetSpec(
    "Views",
    (
        C(
            "Asset",
            "asset",
            required=True,
            width=10,
            description="the symbol or asset class the view is about",
        ),
        C(
            "RelativeTo",
            "relative_to",
            width=11,
            description="blank for an absolute view; else the asset it outperforms",
        ),
        C(
            "ExpectedReturn",
            "expected_return",
            required=True,
            number_format=FMT_PCT,
            width=15,
            description="the view's annual return (or outperformance)",
        ),
        C(
            "Confidence",
            "confidence",
            number_format=FMT_PCT,
            width=11,
            description="0 to 1; how much the view moves the prior",
        ),
    ),
    description="Black-Litterman views (absolute, or relative to another asset).",
)

IDENTICAL = SheetSpec(
    "Identical",
    (
        C("Symbol", "symbol", required=True, width=10, description="a fund"),
        C(
            "IdenticalTo",
            "identical_to",
            required=True,
            width=24,
            description="funds the IRS may see as substantially identical to it, comma-separated",
        ),
    ),
    description="Substantially identical funds, whatever the Targets are (symbols or asset "
    "classes): wash-sale checks treat each row's funds as one security, as they do "
    "Targets' IdenticalTo.",
)

PRICES = SheetSpec(
    "Prices",
    (
        C("Symbol", "symbol", required=True, width=10, description="the fund's ticker"),
        C(
            "Price",
            "price",
            required=True,
            number_format=FMT_PRICE,
            width=12,
            description="the price per share, in the base currency",
        ),
        C("AsOf", "as_of", number_format=FMT_DATE, width=12, description="the date of the price"),
        C(
            "Source",
            "source",
            width=10,
            description="`manual` (wins over any feed), `yahoo`, `cache` or `file`",
        ),
    ),
    description="Latest prices; rows with Source = manual win over any feed.",
)

# ----------------------------------------------------- the firm's model file
# Not a workbook sheet: the security master of a model file (docs/model.md), read with
# the model's Targets sheet (the workbook's TARGETS spec) by workbook/model_file.load_model.
SECURITIES = SheetSpec(
    "Securities",
    (
        C("Symbol", "symbol", required=True, width=10, description="a fund"),
        C("AssetClass", "asset_class", width=18, description="its asset class"),
        C(
            "Buy",
            "buy",
            width=16,
            description="TRUE: the fund to buy for its class when a household holds none; "
            "or the account types to buy it in (taxable, tax_deferred, tax_exempt)",
        ),
        C(
            "Substitute",
            "substitute",
            width=11,
            description="what to buy after selling it at a loss (not substantially identical)",
        ),
        C(
            "IdenticalTo",
            "identical_to",
            width=24,
            description="funds the IRS may see as substantially identical to it, comma-separated",
        ),
        C("Name", "name", width=32, description="the fund's name (for people)"),
    ),
    description="The firm's security master: each fund's asset class, the fund to buy per "
    "class, substitutes and substantially identical funds.",
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
DRIFT = SheetSpec(
    "Drift",
    (
        C(
            "AssetClass",
            "asset_class",
            width=18,
            description="the line's asset class (CASH for cash when targets are asset classes)",
        ),
        C(
            "Symbol",
            "symbol",
            width=10,
            description="the line's symbol (CASH for cash when targets are symbols)",
        ),
        C("Value", "value", number_format=FMT_MONEY, width=14, description="value before trades"),
        C(
            "Weight",
            "weight",
            number_format=FMT_PCT,
            width=9,
            description="weight of total value before trades",
        ),
        C(
            "TargetWeight",
            "target_weight",
            number_format=FMT_PCT,
            width=13,
            description="the target weight",
        ),
        C("Drift", "drift", number_format=FMT_PCT, width=9, description="weight minus target"),
        C(
            "RelativeDrift",
            "relative_drift",
            number_format=FMT_PCT,
            width=13,
            description="drift as a fraction of the target",
        ),
        C(
            "Band",
            "band",
            number_format=FMT_PCT,
            width=9,
            description="the band the line must stay within",
        ),
        C(
            "OutOfBand",
            "out_of_band",
            width=11,
            description="TRUE when the drift is outside the band",
        ),
        C(
            "PostTradeWeight",
            "post_trade_weight",
            number_format=FMT_PCT,
            width=16,
            description="weight after the proposed trades",
        ),
    ),
)

TRADES = SheetSpec(
    "Trades",
    (
        C("Account", "account", width=16, description="the account to trade in"),
        C("Symbol", "symbol", width=10, description="the fund"),
        C("Action", "action", width=8, description="`BUY` or `SELL`"),
        C("Shares", "shares", number_format=FMT_SHARES, width=10, description="shares to trade"),
        C("Price", "price", number_format=FMT_PRICE, width=11, description="the price used"),
        C("Value", "value", number_format=FMT_MONEY, width=13, description="shares times price"),
        C("LotId", "lot_id", width=10, description="the lot a sale takes shares from"),
        C(
            "Acquired",
            "acquired",
            number_format=FMT_DATE,
            width=12,
            description="the lot's acquisition date (a buy: the valuation date)",
        ),
        C(
            "CostBasis",
            "cost_basis",
            number_format=FMT_MONEY,
            width=13,
            description="the basis of the shares sold (a buy: its value plus costs)",
        ),
        C(
            "RealizedGain",
            "realized_gain",
            number_format=FMT_MONEY,
            width=13,
            description="a sale's value less costs less basis",
        ),
        C("Term", "term", width=6, description="`ST` or `LT`"),
        C(
            "EstTax",
            "est_tax",
            number_format=FMT_MONEY,
            width=11,
            description="the row's gain at its term's rate, before netting",
        ),
        C(
            "EstCost",
            "est_cost",
            number_format=FMT_MONEY,
            width=10,
            description="estimated trading cost (cost_bps of the value)",
        ),
        C("Reason", "reason", width=40, description="why the trade is there"),
        C(
            "HoldingStart",
            "holding_start",
            number_format=FMT_DATE,
            width=12,
            description="a buy that replaces shares sold at a loss: its holding period's start, "
            "the sold shares' period tacked on (IRC §1223(3)); record-fills gives it to the lot",
        ),
    ),
)

TAX_HARVEST = SheetSpec(
    "TaxHarvest",
    (
        C("Account", "account", width=16, description="the account holding the lot"),
        C("Symbol", "symbol", width=10, description="the fund"),
        C("LotId", "lot_id", width=10, description="the lot"),
        C("Shares", "shares", number_format=FMT_SHARES, width=10, description="shares in the lot"),
        C("Price", "price", number_format=FMT_PRICE, width=11, description="the price used"),
        C(
            "UnrealizedLoss",
            "unrealized_loss",
            number_format=FMT_MONEY,
            width=15,
            description="the loss a sale would realize",
        ),
        C("Term", "term", width=6, description="`ST` or `LT`"),
        C(
            "Substitute",
            "substitute",
            width=11,
            description="the Targets row's Substitute to buy instead",
        ),
        C(
            "WashSale",
            "wash_sale",
            width=10,
            description="TRUE when a purchase within the window would wash the loss",
        ),
        C("BlockedBy", "blocked_by", width=40, description="the purchases that would wash it"),
        C(
            "EstTaxSaving",
            "est_tax_saving",
            number_format=FMT_MONEY,
            width=13,
            description="the loss at its term's rate",
        ),
    ),
)

REALIZED = SheetSpec(
    "Realized",
    (
        C(
            "Part",
            "part",
            width=6,
            description="Form 8949 Part I (short-term) or II (long-term), or a totals row",
        ),
        C("Description", "description", width=40, description="column (a): shares and symbol"),
        C("Account", "account", width=16, description="the account the sale was in"),
        C(
            "DateAcquired",
            "date_acquired",
            number_format=FMT_DATE,
            width=13,
            description="column (b)",
        ),
        C("DateSold", "date_sold", number_format=FMT_DATE, width=12, description="column (c)"),
        C("Proceeds", "proceeds", number_format=FMT_MONEY, width=14, description="column (d)"),
        C("CostBasis", "cost_basis", number_format=FMT_MONEY, width=14, description="column (e)"),
        C("Code", "code", width=6, description="column (f): W for a wash sale"),
        C(
            "Adjustment",
            "adjustment",
            number_format=FMT_MONEY,
            width=13,
            description="column (g): the disallowed loss",
        ),
        C("GainLoss", "gain_loss", number_format=FMT_MONEY, width=14, description="column (h)"),
        C(
            "Source",
            "source",
            width=30,
            description="where the row came from (Transactions row or this run's Trades)",
        ),
    ),
    description="The tax year's sales in Form 8949's layout, with each Part's totals.",
)

SUMMARY = SheetSpec(
    "Summary",
    (
        C("Key", "key", width=30, description="what the figure is"),
        C("Value", "value", width=24, description="the figure"),
    ),
)

LOG = SheetSpec(
    "Log",
    (
        C(
            "Time",
            "time",
            number_format=FMT_DATETIME,
            width=20,
            description="when the run wrote the line",
        ),
        C("Level", "level", width=8, description="`error`, `warning` or `info`"),
        C("Sheet", "sheet", width=16, description="the sheet the line is about"),
        C("Cell", "cell", width=8, description="the cell the line is about"),
        C("Message", "message", width=100, description="what happened and what to do"),
    ),
)

OPTIMIZED_TARGETS = SheetSpec(
    "OptimizedTargets",
    (
        C("Symbol", "symbol", width=12, description="the fund (CASH, and a Portfolio row last)"),
        C(
            "Weight",
            "weight",
            number_format=FMT_PCT,
            width=10,
            description="the strategy's weight of total value",
        ),
        C(
            "ExpectedReturn",
            "expected_return",
            number_format=FMT_PCT,
            width=15,
            description="annual expected return",
        ),
        C(
            "Volatility",
            "volatility",
            number_format=FMT_PCT,
            width=11,
            description="annual volatility",
        ),
        C(
            "RiskContribution",
            "risk_contribution",
            number_format=FMT_PCT,
            width=17,
            description="share of the portfolio's risk",
        ),
        C(
            "Sharpe",
            "sharpe",
            number_format="0.000",
            width=9,
            description="the Portfolio row's Sharpe ratio",
        ),
    ),
)

REPORT = SheetSpec(
    "Report",
    (),
    description=(
        "The proposal on one printed page: who it is prepared for and by (Settings "
        "client_name, firm_name) and when, the deposit or withdrawal, the household before "
        "and after by asset class and by account, tax and costs, the largest trades, the "
        "losses to harvest and the disclosure (Settings disclosure). `xl-rebalancer report "
        "BOOK --pdf FILE` and `batch --pdf` print it to a PDF."
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
