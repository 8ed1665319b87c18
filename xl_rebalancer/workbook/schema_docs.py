"""What each contract sheet and column means, in the words the user reads: docs/workbook.md
(workbook/contract.py), the template's Description column and the Instructions sheet.

Kept apart from the specs (workbook/schema.py) so that the contract's shape (headers,
fields, formats, widths) reads at a glance, and its prose can be edited without it.
Keyed by sheet name and column field; a column missing here has no description.
"""

from __future__ import annotations

SHEET_DOCS: dict[str, str] = {
    "Settings": "Key/value settings; blank values take the documented default.",
    "Accounts": "One row per account: taxable, tax_deferred or tax_exempt.",
    "CashFlows": "Deposits and withdrawals per account for this rebalance; several rows, "
    "several accounts. The cash_flow setting is a shorthand for one row on the first account. "
    "Recording the run's fills applies them once (AppliedOn; the setting goes back to 0).",
    "Holdings": "Positions per account; may be left out where TaxLots cover them.",
    "TaxLots": "Tax lots; CostBasis is the lot's total basis.",
    "Targets": "Target weights by Symbol or by AssetClass; they add up to 1.",
    "Constraints": "Limits that bind the optimizer and the rebalance alike.",
    "CorporateActions": "Splits, dividends, mergers, spin-offs and symbol changes to apply to lots.",
    "Transactions": "Recent trades, for wash-sale checks and the year's realized gains.",
    "Views": "Black-Litterman views (absolute, or relative to another asset).",
    "Identical": "Substantially identical funds, whatever the Targets are (symbols or asset "
    "classes): wash-sale checks treat each row's funds as one security, as they do "
    "Targets' IdenticalTo.",
    "Prices": "Latest prices; rows with Source = manual win over any feed.",
    "Securities": "The firm's security master: each fund's asset class, the fund to buy per "
    "class, substitutes and substantially identical funds.",
    "Realized": "The tax year's sales in Form 8949's layout, with each Part's totals.",
    "Report": "The proposal on one printed page: who it is prepared for and by (Settings "
    "client_name, firm_name) and when, the deposit or withdrawal, the household before "
    "and after by asset class and by account, tax and costs, the largest trades, the "
    "losses to harvest and the disclosure (Settings disclosure). `xl-rebalancer report "
    "BOOK --pdf FILE` and `batch --pdf` print it to a PDF.",
}

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "Settings": {
        "setting": "the setting's name (every one is listed with its default under Settings below)",
        "value": "its value; blank takes the default",
        "description": "what it does (written by the template; not read)",
    },
    "Accounts": {
        "account": "the account's name, as Holdings, TaxLots and Transactions spell it",
        "type": "`taxable`, `tax_deferred` or `tax_exempt`; tax lots, realized gains and harvesting apply to taxable accounts",
        "cash": "cash held in the account (money)",
        "broker_account": "the broker's account number, remembered by `import`; a masked one "
        "(`...518`) matches the downloads but cannot go into an order file: type the full "
        "number over it",
        "broker": "who holds the account (`fidelity`, `schwab`, `ibkr`, `vanguard`, `ofx`), "
        "remembered by `import` from the file it came from; `export-orders --format` writes "
        "only its broker's accounts",
        "broker_name": "the broker's own name for the account (`Joint WROS`), remembered by "
        "`import` (and from `--account NAME=...`): a file that names the account rather "
        "than numbering it is matched by it",
        "do_not_trade": "TRUE: no trade in this account (a pending transfer, the client's "
        "request); its holdings and cash still count toward the household's drift",
    },
    "CashFlows": {
        "account": "an account on the Accounts sheet",
        "amount": "a deposit (positive) or a withdrawal (negative) to handle in this rebalance",
        "note": "what the money is for (not used by the engine)",
        "applied_on": "the date `record-fills` moved it into (or out of) the account's Cash; "
        "a row with a date is done: the next run does not raise or spend it again",
    },
    "Holdings": {
        "account": "an account on the Accounts sheet",
        "symbol": "the fund's ticker (upper-cased; `CASH` is reserved)",
        "shares": "shares held; TaxLots of the same account and symbol must add up to it",
        "asset_class": "the class the fund counts toward when Targets are set by asset class",
    },
    "TaxLots": {
        "account": "an account on the Accounts sheet",
        "symbol": "the fund's ticker",
        "lot_id": "a name for the lot, unique in the workbook",
        "acquired": "the date the lot was bought",
        "shares": "shares left in the lot",
        "cost_basis": "the lot's total basis (money), not per share",
        "wash_adjustment": "the part of CostBasis that is a disallowed wash-sale loss moved in "
        "(already inside CostBasis: never added to it again)",
        "holding_start": "the start of the holding period when it is not Acquired (carried over from a washed lot)",
        "inherited": "TRUE for an inherited lot: always long-term (IRC 1223(9))",
        "lock": "`lock` never sells the lot; `sell` sells all of it in this rebalance",
    },
    "Targets": {
        "symbol": "a fund's target (leave blank on an asset-class row)",
        "asset_class": "an asset class's target (leave Symbol blank)",
        "target_weight": "the weight of total value, cash included; the rows add up to 1",
        "band_abs": "this row's absolute drift band (default: Settings band_abs)",
        "band_rel": "this row's relative drift band (default: Settings band_rel)",
        "substitute": "a fund to buy instead when a wash sale blocks this one",
        "min_weight": "lowest weight after trades",
        "max_weight": "highest weight after trades",
        "identical_to": "a symbol the IRS may see as substantially identical (wash sales span both)",
        "location": "the account type the asset belongs in (asset location)",
    },
    "Constraints": {
        "scope": "`symbol`, `asset_class` or `account`",
        "name": "the symbol, asset class or account the row limits",
        "min_weight": "lowest weight of total value after trades",
        "max_weight": "highest weight of total value after trades",
        "no_buy": "TRUE: never buy within the scope",
        "no_sell": "TRUE: never sell within the scope",
    },
    "CorporateActions": {
        "action_id": "a name for the action, unique in the workbook",
        "type": "`split`, `cash_dividend`, `return_of_capital`, `stock_dividend`, "
        "`merger`, `spinoff` or `symbol_change`",
        "symbol": "the symbol the action applies to",
        "effective_date": "the ex-date (or effective date) of the action",
        "ratio": "new shares per old share (a 2-for-1 split is 2)",
        "cash_per_share": "cash paid per share held",
        "new_symbol": "the symbol received (merger, spin-off, symbol change)",
        "basis_allocation": "share of the old basis carried to the new symbol (spin-off)",
        "new_symbol_price": "price of the new symbol, for allocating basis",
        "status": "`pending` until `apply-actions` applies it, then `applied`",
        "applied_on": "the date `apply-actions` applied it (written by the engine)",
        "taxable": "TRUE for a merger that is a fully taxable sale",
    },
    "Transactions": {
        "date": "trade date",
        "account": "an account on the Accounts sheet",
        "symbol": "the fund's ticker",
        "action": "`BUY` or `SELL`",
        "shares": "shares traded",
        "price": "price per share",
        "realized_gain": "a sale's gain or loss, when the broker reported it",
        "acquired": "a sale's acquisition date (for its term)",
        "cost_basis": "a sale's basis (money)",
        "term": "`ST` or `LT` for a sale",
        "ref": "the broker's or engine's reference, so a second import or fill changes nothing",
    },
    "Views": {
        "asset": "the symbol or asset class the view is about",
        "relative_to": "blank for an absolute view; else the asset it outperforms",
        "expected_return": "the view's annual return (or outperformance)",
        "confidence": "0 to 1; how much the view moves the prior",
    },
    "Identical": {
        "symbol": "a fund",
        "identical_to": "funds the IRS may see as substantially identical to it, comma-separated",
    },
    "Prices": {
        "symbol": "the fund's ticker",
        "price": "the price per share, in the base currency",
        "as_of": "the date of the price",
        "source": "`manual` (wins over any feed), `yahoo`, `cache` or `file`",
    },
    "Securities": {
        "symbol": "a fund",
        "asset_class": "its asset class",
        "buy": "TRUE: the fund to buy for its class when a household holds none; "
        "or the account types to buy it in (taxable, tax_deferred, tax_exempt)",
        "substitute": "what to buy after selling it at a loss (not substantially identical)",
        "identical_to": "funds the IRS may see as substantially identical to it, comma-separated",
        "name": "the fund's name (for people)",
    },
    "Drift": {
        "asset_class": "the line's asset class (CASH for cash when targets are asset classes)",
        "symbol": "the line's symbol (CASH for cash when targets are symbols)",
        "value": "value before trades",
        "weight": "weight of total value before trades",
        "target_weight": "the target weight",
        "drift": "weight minus target",
        "relative_drift": "drift as a fraction of the target",
        "band": "the band the line must stay within",
        "out_of_band": "TRUE when the drift is outside the band",
        "post_trade_weight": "weight after the proposed trades",
    },
    "Trades": {
        "account": "the account to trade in",
        "symbol": "the fund",
        "action": "`BUY` or `SELL`",
        "shares": "shares to trade",
        "price": "the price used",
        "value": "shares times price",
        "lot_id": "the lot a sale takes shares from",
        "acquired": "the lot's acquisition date (a buy: the valuation date)",
        "cost_basis": "the basis of the shares sold (a buy: its value plus costs)",
        "realized_gain": "a sale's value less costs less basis",
        "term": "`ST` or `LT`",
        "est_tax": "the row's gain at its term's rate, before netting",
        "est_cost": "estimated trading cost (cost_bps of the value)",
        "reason": "why the trade is there",
        "holding_start": "a buy that replaces shares sold at a loss: its holding period's start, "
        "the sold shares' period tacked on (IRC §1223(3)); record-fills gives it to the lot",
    },
    "TaxHarvest": {
        "account": "the account holding the lot",
        "symbol": "the fund",
        "lot_id": "the lot",
        "shares": "shares in the lot",
        "price": "the price used",
        "unrealized_loss": "the loss a sale would realize",
        "term": "`ST` or `LT`",
        "substitute": "the Targets row's Substitute to buy instead",
        "wash_sale": "TRUE when a purchase within the window would wash the loss",
        "blocked_by": "the purchases that would wash it",
        "est_tax_saving": "the loss at its term's rate",
    },
    "Realized": {
        "part": "Form 8949 Part I (short-term) or II (long-term), or a totals row",
        "description": "column (a): shares and symbol",
        "account": "the account the sale was in",
        "date_acquired": "column (b)",
        "date_sold": "column (c)",
        "proceeds": "column (d)",
        "cost_basis": "column (e)",
        "code": "column (f): W for a wash sale",
        "adjustment": "column (g): the disallowed loss",
        "gain_loss": "column (h)",
        "source": "where the row came from (Transactions row or this run's Trades)",
    },
    "Summary": {
        "key": "what the figure is",
        "value": "the figure",
    },
    "Log": {
        "time": "when the run wrote the line",
        "level": "`error`, `warning` or `info`",
        "sheet": "the sheet the line is about",
        "cell": "the cell the line is about",
        "message": "what happened and what to do",
    },
    "OptimizedTargets": {
        "symbol": "the fund (CASH, and a Portfolio row last)",
        "weight": "the strategy's weight of total value",
        "expected_return": "annual expected return",
        "volatility": "annual volatility",
        "risk_contribution": "share of the portfolio's risk",
        "sharpe": "the Portfolio row's Sharpe ratio",
    },
}
