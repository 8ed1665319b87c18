"""Rules that span rows and sheets, each reported at the cell a person must fix.

Single-cell rules live in the field types; these need the whole portfolio. The
Locator turns (sheet, row, field) into an address, because the columns sit wherever
the user put them.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..errors import Level, Problem
from .inputs import Portfolio, Settings, _classes

SETTING_NAMES = frozenset(Settings.model_fields)

TARGET_SUM_TOLERANCE = 1e-4
SHARE_TOLERANCE = 1e-6
CASH = "CASH"


@dataclass
class Locator:
    """Where each sheet's columns are, so models (which keep their row) map back to cells."""

    sheets: dict[str, tuple[str, dict[str, str], int]] = field(default_factory=dict)
    settings_cells: dict[str, str] = field(default_factory=dict)

    def add(self, sheet: str, title: str, columns: dict[str, str], header_row: int) -> None:
        self.sheets[sheet] = (title, columns, header_row)

    def title(self, sheet: str) -> str:
        return self.sheets.get(sheet, (sheet, {}, 1))[0]

    def cell(self, sheet: str, row: int | None, fld: str) -> str:
        _, columns, header_row = self.sheets.get(sheet, (sheet, {}, 1))
        return f"{columns.get(fld, 'A')}{row if row is not None else header_row}"

    def column_range(self, sheet: str, fld: str, rows: list[int | None]) -> str:
        numbers = [r for r in rows if r is not None]
        if not numbers:
            return self.cell(sheet, None, fld)
        first, last = min(numbers), max(numbers)
        start = self.cell(sheet, first, fld)
        return start if first == last else f"{start}:{self.cell(sheet, last, fld)}"

    def problem(
        self, message: str, sheet: str, row: int | None, fld: str, level: Level = "error"
    ) -> Problem:
        return Problem(message, self.title(sheet), self.cell(sheet, row, fld), level)

    def setting(self, message: str, name: str, level: Level = "error") -> Problem:
        return Problem(message, self.title("Settings"), self.settings_cells.get(name, "A1"), level)

    def place(self, problem: Problem) -> Problem:
        """The cell of an engine problem that names a sheet and a field but no cell."""
        if problem.cell is not None or problem.sheet is None:
            return problem
        if problem.sheet == "Settings":
            # The engine names the setting it blames in its message ("risk_free_rate
            # 2.00% is above ..."): the first setting named is the cell to show.
            name = problem.field or next(
                (w for w in re.findall(r"[a-z][a-z_]+", problem.message) if w in SETTING_NAMES),
                None,
            )
            if name is None:
                return problem
            return self.setting(problem.message, name, problem.level)
        if problem.field is None:
            return problem
        return self.problem(
            problem.message, problem.sheet, problem.row, problem.field, problem.level
        )


def symbol_classes(portfolio: Portfolio) -> dict[str, str]:
    """Asset class of each symbol, from Holdings rows that name one, then from the model
    file's security master (workbook.model_file fills a blank Holdings cell from it already;
    this covers a fund held only on TaxLots, or bought as a class's Buy fund)."""
    return _classes(portfolio)


@dataclass
class Followups:
    """How many problems were not reported because they follow from an error already
    reported (a position's lots cannot add up while one of its Shares cells is text)."""

    count: int = 0


def check_portfolio(
    p: Portfolio,
    loc: Locator,
    incomplete: set[str] = frozenset(),
    stand_ins: set[tuple[str, int]] = frozenset(),
    follow_ons: Followups | None = None,
    priced_elsewhere: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Cross-sheet rules; sheets in `incomplete` lost rows to cell errors, so their totals
    are not checked (a sum over the rows that survived would only mislead). Rows in
    `stand_ins` (sheet, row) failed a cell and carry stand-in values (workbook.rows._stand_in):
    rules that add up or compare their values skip them and count a follow-on."""
    follow_ons = follow_ons if follow_ons is not None else Followups()
    out: list[Problem] = []
    out += _check_accounts(p, loc)
    out += _check_holdings_and_lots(p, loc, stand_ins, follow_ons)
    out += _check_targets(p, loc, "Targets" in incomplete)
    out += _check_constraints(p, loc)
    out += _check_actions(p, loc)
    out += _check_settings(p, loc)
    out += _check_prices(p, loc)
    out += _check_unpriced(p, loc, stand_ins, priced_elsewhere)
    return out


def _check_accounts(p: Portfolio, loc: Locator) -> list[Problem]:
    out = []
    seen: dict[str, int | None] = {}
    for account in p.accounts:
        if account.account in seen:
            out.append(
                loc.problem(
                    f"account {account.account} is listed twice (also row {seen[account.account]})",
                    "Accounts",
                    account.row,
                    "account",
                )
            )
        seen[account.account] = account.row
        if account.cash < 0:
            out.append(
                loc.problem(
                    f"Cash is negative ({account.cash:,.2f}); margin is not supported",
                    "Accounts",
                    account.row,
                    "cash",
                )
            )
    names = set(seen)
    for sheet, rows in (
        ("CashFlows", p.cash_flows),
        ("Holdings", p.holdings),
        ("TaxLots", p.lots),
        ("Transactions", p.transactions),
    ):
        for item in rows:
            if item.account not in names:
                out.append(
                    loc.problem(
                        f"account {item.account!r} is not on the Accounts sheet",
                        sheet,
                        item.row,
                        "account",
                    )
                )
    return out


def _check_holdings_and_lots(
    p: Portfolio,
    loc: Locator,
    stand_ins: set[tuple[str, int]] = frozenset(),
    follow_ons: Followups | None = None,
    priced_elsewhere: frozenset[str] = frozenset(),
) -> list[Problem]:
    out = []
    valuation = p.settings.valuation_date
    holdings: dict[tuple[str, str], int | None] = {}
    for h in p.holdings:
        key = (h.account, h.symbol)
        if h.symbol == CASH:
            out.append(
                loc.problem(
                    "CASH is reserved; put cash in Accounts.Cash", "Holdings", h.row, "symbol"
                )
            )
        if key in holdings:
            out.append(
                loc.problem(
                    f"{h.symbol} in {h.account} is listed twice (also row {holdings[key]})",
                    "Holdings",
                    h.row,
                    "symbol",
                )
            )
        holdings[key] = h.row
    # LotId is unique in the workbook, not only in its account: a sale, a fill or an
    # order's lot instruction names the lot by it alone.
    lot_ids: dict[str, tuple[int | None, str]] = {}
    lots_by_position: dict[tuple[str, str], list] = defaultdict(list)
    for lot in p.lots:
        if lot.symbol == CASH:
            out.append(loc.problem("CASH is reserved", "TaxLots", lot.row, "symbol"))
        if lot.lot_id in lot_ids:
            row, account = lot_ids[lot.lot_id]
            text = (
                f"LotId {lot.lot_id} is used twice in {lot.account} (also row {row})"
                if account == lot.account
                else f"LotId {lot.lot_id} is used twice (also row {row}, in {account}); a "
                "LotId is unique in the workbook: rename one"
            )
            out.append(
                loc.problem(
                    text,
                    "TaxLots",
                    lot.row,
                    "lot_id",
                )
            )
        lot_ids[lot.lot_id] = (lot.row, lot.account)
        lots_by_position[(lot.account, lot.symbol)].append(lot)
        if valuation and lot.acquired > valuation:
            out.append(
                loc.problem(
                    f"acquired {lot.acquired} is after the valuation date "
                    f"{valuation}; treated as short-term",
                    "TaxLots",
                    lot.row,
                    "acquired",
                    "warning",
                )
            )
        if lot.holding_start and lot.holding_start > lot.acquired:
            out.append(
                loc.problem(
                    "HoldingStart is after Acquired; a washed lot's holding "
                    "period starts earlier, not later",
                    "TaxLots",
                    lot.row,
                    "holding_start",
                )
            )
    for h in p.holdings:
        lots = lots_by_position.get((h.account, h.symbol))
        if not lots:
            continue
        total = sum(lot.shares for lot in lots)
        guessed = ("Holdings", h.row) in stand_ins or any(
            ("TaxLots", lot.row) in stand_ins for lot in lots
        )
        if guessed and abs(total - h.shares) > SHARE_TOLERANCE:
            if follow_ons is not None:
                follow_ons.count += 1
            continue
        if abs(total - h.shares) > SHARE_TOLERANCE:
            where = loc.column_range("TaxLots", "shares", [lot.row for lot in lots])
            out.append(
                loc.problem(
                    f"{h.symbol} in {h.account}: Holdings says {h.shares:g} shares but its lots at "
                    f"{loc.title('TaxLots')}!{where} add up to {total:g}",
                    "Holdings",
                    h.row,
                    "shares",
                )
            )
    return out


def _check_targets(p: Portfolio, loc: Locator, incomplete: bool = False) -> list[Problem]:
    out: list[Problem] = []
    targets = p.targets
    if not targets:
        if p.settings.strategy == "targets" and not incomplete:
            out.append(
                Problem(
                    "no target weights: strategy 'targets' needs a Targets sheet "
                    "with TargetWeight rows",
                    loc.title("Targets"),
                    "A1",
                )
            )
        return out
    seen: dict[str, int | None] = {}
    for t in targets:
        key = t.key.upper()
        fld = "symbol" if t.symbol is not None else "asset_class"
        if key in seen:
            out.append(
                loc.problem(
                    f"{t.key} has two target rows (also row {seen[key]})", "Targets", t.row, fld
                )
            )
        seen[key] = t.row
        if t.min_weight is not None and t.max_weight is not None and t.min_weight > t.max_weight:
            out.append(loc.problem("MinWeight is above MaxWeight", "Targets", t.row, "min_weight"))
        if t.max_weight is not None and t.target_weight > t.max_weight + 1e-12:
            out.append(
                loc.problem("TargetWeight is above MaxWeight", "Targets", t.row, "target_weight")
            )
        if t.min_weight is not None and t.target_weight < t.min_weight - 1e-12:
            out.append(
                loc.problem("TargetWeight is below MinWeight", "Targets", t.row, "target_weight")
            )
    non_cash = [t for t in targets if t.key.upper() != CASH]
    by_class = [t for t in non_cash if t.asset_class is not None]
    if by_class and len(by_class) != len(non_cash):
        first = next(t for t in non_cash if t.symbol is not None)
        out.append(
            loc.problem(
                "Targets mixes Symbol rows and AssetClass rows; use one or the "
                "other (a CASH row goes with either)",
                "Targets",
                first.row,
                "symbol",
            )
        )
        return out
    total = sum(t.target_weight for t in targets)
    if (
        p.settings.strategy == "targets"
        and not incomplete
        and abs(total - 1.0) > TARGET_SUM_TOLERANCE
    ):
        where = loc.column_range("Targets", "target_weight", [t.row for t in targets])
        out.append(
            Problem(f"target weights add up to {total:.4%}, not 100%", loc.title("Targets"), where)
        )
    if by_class:
        out += _check_asset_classes(
            p, loc, {t.asset_class.upper(): t for t in by_class if t.asset_class}
        )
    return out


def _check_asset_classes(p: Portfolio, loc: Locator, class_targets: dict) -> list[Problem]:
    out = []
    classes: dict[str, tuple[str, int | None]] = {}
    for h in p.holdings:
        if not h.asset_class:
            continue
        if h.symbol in classes and classes[h.symbol][0].upper() != h.asset_class.upper():
            out.append(
                loc.problem(
                    f"{h.symbol} is in asset class {classes[h.symbol][0]} on row "
                    f"{classes[h.symbol][1]} but {h.asset_class} here",
                    "Holdings",
                    h.row,
                    "asset_class",
                )
            )
        classes.setdefault(h.symbol, (h.asset_class, h.row))
    master = {sec.symbol: sec for sec in p.securities if sec.asset_class}
    reported: set[str] = set()
    for sheet, rows in (("Holdings", p.holdings), ("TaxLots", p.lots)):
        for item in rows:
            if item.symbol in master and item.symbol not in classes:
                classes[item.symbol] = (str(master[item.symbol].asset_class), None)
            if item.symbol not in classes and item.symbol not in reported:
                reported.add(item.symbol)
                where = (
                    "give it an AssetClass on Holdings, or add it to the model file's "
                    "Securities sheet"
                    if p.securities
                    else "give it an AssetClass on Holdings"
                )
                out.append(
                    loc.problem(
                        f"{item.symbol} has no asset class, but targets are set "
                        f"by asset class; {where}",
                        sheet,
                        item.row,
                        "symbol",
                    )
                )
    for symbol, (name, row) in classes.items():
        if name.upper() not in class_targets:
            out.append(
                loc.problem(
                    f"asset class {name} of {symbol} has no target row; it will be sold down to 0%",
                    "Holdings",
                    row,
                    "asset_class",
                    "warning",
                )
            )
    members = {name.upper() for name, _ in classes.values()}
    buy = p.buy_funds()
    for name, target in class_targets.items():
        if target.target_weight > 0 and name not in members and name not in buy:
            hint = (
                "mark a fund of the class Buy on the model file's Securities sheet, or add "
                "a Holdings row (Shares 0 is fine) naming the fund to buy"
                if p.securities or p.settings.model_file
                else "add a Holdings row (Shares 0 is fine) naming the fund to buy"
            )
            out.append(
                loc.problem(
                    f"no symbol is in asset class {target.asset_class}; {hint}",
                    "Targets",
                    target.row,
                    "asset_class",
                )
            )
    return out


def _check_constraints(p: Portfolio, loc: Locator) -> list[Problem]:
    out = []
    accounts = {a.account for a in p.accounts}
    for c in p.constraints:
        if c.scope == "account" and c.name not in accounts:
            out.append(
                loc.problem(
                    f"account {c.name!r} is not on the Accounts sheet", "Constraints", c.row, "name"
                )
            )
        if c.min_weight is not None and c.max_weight is not None and c.min_weight > c.max_weight:
            out.append(
                loc.problem("MinWeight is above MaxWeight", "Constraints", c.row, "min_weight")
            )
    # A lot the user wants sold (Lock = sell) where a NoSell row forbids selling: the
    # two rules contradict each other, and which one wins must not be left to chance.
    classes = {s.upper(): c.upper() for s, c in symbol_classes(p).items()}
    for lot in p.lots:
        if lot.lock != "sell":
            continue
        for c in p.constraints:
            if not c.no_sell:
                continue
            hit = (
                (c.scope == "symbol" and c.name.upper() == lot.symbol.upper())
                or (c.scope == "account" and c.name == lot.account)
                or (c.scope == "asset_class" and c.name.upper() == classes.get(lot.symbol))
            )
            if hit:
                where = f"{loc.title('Constraints')}!{loc.cell('Constraints', c.row, 'no_sell')}"
                out.append(
                    loc.problem(
                        f"lot {lot.lot_id} of {lot.symbol} in {lot.account} is marked Lock = "
                        f"sell, but {where} forbids selling it ({c.scope.replace('_', ' ')} "
                        f"{c.name} is NoSell); clear one of the two",
                        "TaxLots",
                        lot.row,
                        "lock",
                    )
                )
    # Minimums of one scope cover disjoint parts of the household, so together with
    # cash_min they cannot pass 100%: no trade list could ever meet them.
    for scope in ("symbol", "asset_class", "account"):
        rows = [c for c in p.constraints if c.scope == scope and c.min_weight]
        floor = sum(c.min_weight or 0.0 for c in rows)
        cash_min = p.settings.cash_min if scope != "account" else 0.0
        if rows and floor + cash_min > 1 + 1e-9:
            with_cash = f" plus cash_min {cash_min:.2%}" if cash_min else ""
            out.append(
                Problem(
                    f"the MinWeight of the {scope.replace('_', ' ')} rows adds up to "
                    f"{floor:.2%}{with_cash}, more than the whole household",
                    loc.title("Constraints"),
                    loc.column_range("Constraints", "min_weight", [c.row for c in rows]),
                )
            )
    return out


_ACTION_NEEDS = {
    "split": ("ratio",),
    "stock_dividend": ("ratio",),
    "cash_dividend": ("cash_per_share",),
    "return_of_capital": ("cash_per_share",),
    "merger": (),
    "spinoff": ("new_symbol", "ratio", "basis_allocation"),
    "symbol_change": ("new_symbol",),
}
_HEADERS = {
    "ratio": "Ratio",
    "cash_per_share": "CashPerShare",
    "new_symbol": "NewSymbol",
    "basis_allocation": "BasisAllocation",
    "new_symbol_price": "NewSymbolPrice",
}


def _check_actions(p: Portfolio, loc: Locator) -> list[Problem]:
    out = []
    seen: dict[str, int | None] = {}
    for a in p.actions:
        if a.action_id in seen:
            out.append(
                loc.problem(
                    f"ActionId {a.action_id} is used twice (also row {seen[a.action_id]})",
                    "CorporateActions",
                    a.row,
                    "action_id",
                )
            )
        seen[a.action_id] = a.row
        for fld in _ACTION_NEEDS[a.type]:
            if getattr(a, fld) is None:
                out.append(
                    loc.problem(f"a {a.type} needs {_HEADERS[fld]}", "CorporateActions", a.row, fld)
                )
        if a.type == "merger" and a.ratio is None and a.cash_per_share is None:
            out.append(
                loc.problem(
                    "a merger needs Ratio, CashPerShare or both", "CorporateActions", a.row, "ratio"
                )
            )
        if a.type == "merger" and a.ratio is not None and a.new_symbol is None:
            out.append(
                loc.problem(
                    "a merger paid in shares needs NewSymbol (leave Ratio blank for an "
                    "all-cash merger)",
                    "CorporateActions",
                    a.row,
                    "new_symbol",
                )
            )
        stock_and_value = a.ratio is not None and (a.cash_per_share or a.taxable)
        if a.type == "merger" and stock_and_value and a.new_symbol_price is None:
            out.append(
                loc.problem(
                    "a merger paid in shares and cash (or a taxable one) needs "
                    "NewSymbolPrice, the new shares' value that day, to compute the gain",
                    "CorporateActions",
                    a.row,
                    "new_symbol_price",
                )
            )
        if (
            a.type == "spinoff"
            and a.basis_allocation is not None
            and not (0 < a.basis_allocation < 1)
        ):
            out.append(
                loc.problem(
                    "BasisAllocation is the fraction of the parent's basis moved to the new "
                    "shares: between 0 and 1 (4.18% for Kyndryl from IBM)",
                    "CorporateActions",
                    a.row,
                    "basis_allocation",
                )
            )
    return out


def _check_settings(p: Portfolio, loc: Locator) -> list[Problem]:
    st = p.settings
    out = []
    if st.cash_min > st.cash_max:
        out.append(
            loc.setting(
                f"cash_min ({st.cash_min:.2%}) is above cash_max ({st.cash_max:.2%})", "cash_max"
            )
        )
    if st.strategy == "target_volatility" and st.target_volatility is None:
        out.append(
            loc.setting(
                "strategy target_volatility needs the target_volatility setting", "strategy"
            )
        )
    if st.strategy == "efficient_return" and st.target_return is None:
        out.append(
            loc.setting("strategy efficient_return needs the target_return setting", "strategy")
        )
    if st.strategy == "glide_path" and st.user_age is None:
        out.append(loc.setting("strategy glide_path needs the user_age setting", "strategy"))
    if st.strategy == "black_litterman" and not p.views:
        out.append(
            loc.setting(
                "strategy black_litterman without a Views sheet uses the prior alone",
                "strategy",
                "warning",
            )
        )
    if st.rebalance_mode == "buy_only":
        out += [
            loc.problem(
                f"lot {lot.lot_id} is marked Lock = sell, but rebalance_mode is buy_only "
                "(nothing is sold); clear the Lock or set rebalance_mode to full",
                "TaxLots",
                lot.row,
                "lock",
            )
            for lot in p.lots
            if lot.lock == "sell"
        ]
    if st.trigger == "calendar" and st.last_rebalanced is None:
        out.append(
            loc.setting(
                "trigger calendar without last_rebalanced: treated as due", "trigger", "warning"
            )
        )
    return out


def _check_prices(p: Portfolio, loc: Locator) -> list[Problem]:
    out = []
    seen: dict[str, int | None] = {}
    for price in p.prices:
        if price.symbol in seen:
            out.append(
                loc.problem(
                    f"{price.symbol} has two price rows (also row {seen[price.symbol]})",
                    "Prices",
                    price.row,
                    "symbol",
                )
            )
        seen[price.symbol] = price.row
    return out


def _check_unpriced(
    p: Portfolio,
    loc: Locator,
    stand_ins: set[tuple[str, int]],
    priced_elsewhere: frozenset[str] = frozenset(),
) -> list[Problem]:
    """A held symbol no price source of the run knows, when the sources know every other
    holding: a typo (VTl for VTI) would otherwise go to the price feed, fail there or,
    worse, find a different security. A typo is likely only then, and only for a symbol
    nothing else names: with a close known symbol it is an error with the suggestion;
    otherwise a warning (the run will look in the cache and on Yahoo). The --prices file
    (`priced_elsewhere`) counts as a source: the sheet need not repeat what it prices."""
    on_sheet = {price.symbol for price in p.prices}
    if not on_sheet:
        return []  # a new workbook: refresh-prices fills the sheet
    priced = on_sheet | set(priced_elsewhere)
    known = priced | {t.symbol for t in p.targets if t.symbol}
    held = {h.symbol for h in p.holdings}
    where = "on the Prices sheet" + (" or in the --prices file" if priced_elsewhere else "")
    out = []
    reported: set[str] = set()
    for h in p.holdings:
        if h.symbol in priced or h.symbol in reported or ("Holdings", h.row) in stand_ins:
            continue
        reported.add(h.symbol)
        others_priced = all(o in priced for o in held - {h.symbol})
        close = difflib.get_close_matches(h.symbol, sorted(known - {h.symbol}), n=1, cutoff=0.6)
        if close and others_priced and h.symbol not in known:
            out.append(
                loc.problem(
                    f"{h.symbol} has no price {where}, which prices every other holding; "
                    f"did you mean {close[0]}?",
                    "Holdings",
                    h.row,
                    "symbol",
                )
            )
        else:
            out.append(
                loc.problem(
                    f"{h.symbol} has no price {where}; the run will look for "
                    "it in the price cache and on Yahoo (refresh-prices fills the sheet)",
                    "Holdings",
                    h.row,
                    "symbol",
                    "warning",
                )
            )
    return out
