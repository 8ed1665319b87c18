"""xl-rebalancer's worksheet functions (xlwings UDFs), named in xlwings.conf `UDF Modules`.

Thin wrappers: each turns what xlwings passes (2-D lists, None for blanks, datetimes
or serial numbers for dates) into plain values, calls the engine, and returns a value
or a 2-D list that Excel spills as a dynamic array. Bad input returns a readable
`#XLRB! ...` string in the cell instead of raising. Only xlwings is imported here; the
engine (numpy, scipy, clarabel) loads on the first call, so Excel starts fast.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import xlwings as xw

CATEGORY = "xl-rebalancer"
F = TypeVar("F", bound=Callable[..., Any])


class BadInput(ValueError):
    """Input a cell formula passed that the function cannot use; shown in the cell."""


def readable_errors(func: F) -> F:
    """A function that fails shows `#XLRB! <why>` in its cell, never an xlwings traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BadInput as exc:
            return f"#XLRB! {exc}"
        except Exception as exc:  # the engine's own errors carry a readable message too
            return f"#XLRB! {_why(exc)}"

    return wrapper  # type: ignore[return-value]


def _why(exc: Exception) -> str:
    """One line for the cell: an input error's first problem (and how many more), else
    the error's first line."""
    from xl_rebalancer.errors import InputError

    problems = [p for p in getattr(exc, "problems", []) if getattr(p, "message", "")]
    if isinstance(exc, InputError) and problems:
        more = len(problems) - 1
        return str(problems[0]) + (f" (and {more} more)" if more else "")
    text = (str(exc).splitlines()[0] if str(exc) else "") or type(exc).__name__
    if problems:  # the engine's hint, said for a cell: a setting comes in the settings range
        text += "; " + problems[0].message.replace("on the Settings sheet", "in the settings range")
    return text


# --- argument parsing --------------------------------------------------------------------


def _rows(value: Any, name: str) -> list[list[Any]]:
    """A range as rows with fully blank rows dropped (a whole-column reference is fine)."""
    if value is None:
        raise BadInput(f"{name} is empty")
    if not isinstance(value, list):
        value = [[value]]
    elif value and not isinstance(value[0], list):
        value = [value]
    rows = [list(r) for r in value if any(c not in (None, "") for c in r)]
    if not rows:
        raise BadInput(f"{name} is empty")
    return rows


def _number(value: Any, name: str, *, default: float | None = None) -> float:
    # The reader's own coercion (models/types.py): numeric text, "25%", Excel errors.
    from xl_rebalancer.models.types import to_number

    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is blank")
        return default
    try:
        return float(to_number(value))
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a number, not {value!r}") from None


def _date(value: Any, name: str, *, default: dt.date | None = None) -> dt.date:
    from xl_rebalancer.models.types import to_date

    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is blank")
        return default
    try:
        day = to_date(value)
    except ValueError:
        day = None
    if not isinstance(day, dt.date):
        raise BadInput(f"{name} must be a date, not {value!r}")
    return day


def _symbol(value: Any, name: str = "symbol") -> str:
    from xl_rebalancer.models.types import to_symbol

    symbol = to_symbol(value) if value is not None else ""
    if not isinstance(symbol, str) or not symbol:
        raise BadInput(f"{name} is blank")
    return symbol


def _numeric(value: Any) -> bool:
    from xl_rebalancer.models.types import to_number

    try:
        to_number(value)
    except (TypeError, ValueError):
        return False
    return True


def _table(value: Any, sheet: str, name: str) -> list[Any]:
    """A range holding one of the input tables with its header (e.g. tblTaxLots[#All]),
    read by that sheet's rules; blank: no rows."""
    from xl_rebalancer.workbook.reader import range_rows

    if value is None or value == "":
        return []
    return range_rows(_rows(value, name), sheet, name)


def _setting(name: str, value: Any) -> Any:
    from xl_rebalancer.workbook.reader import setting_value

    return setting_value(name, value)


def _pairs(value: Any, name: str) -> dict[str, float]:
    """A two-column range (symbol, number), with or without a header row."""
    out: dict[str, float] = {}
    for row in _rows(value, name):
        if len(row) < 2:
            raise BadInput(f"{name} needs two columns: symbol and value")
        if not out and isinstance(row[1], str) and row[1].strip() and not _numeric(row[1]):
            continue  # a header row ("50%" typed as text is a value)
        symbol = _symbol(row[0], f"{name} symbol")
        out[symbol] = out.get(symbol, 0.0) + _number(row[1], f"{name} value of {symbol}")
    if not out:
        raise BadInput(f"{name} has no rows")
    return out


def _returns(value: Any, name: str = "returns") -> tuple[list[str] | None, Any]:
    """Daily returns, one column per asset, optionally under a header of symbols."""
    import numpy as np

    rows = _rows(value, name)
    header = None
    if any(isinstance(c, str) for c in rows[0]):
        header = [_symbol(c, f"{name} header") for c in rows[0]]
        rows = rows[1:]
    if len(rows) < 2:
        raise BadInput(f"{name} needs at least two rows of returns")
    try:
        data = np.array([[float(c) for c in r] for r in rows], dtype=float)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must hold numbers only (blank or text cell found)") from None
    if not np.all(np.isfinite(data)):
        raise BadInput(f"{name} must hold finite numbers")
    # A typical day moves a fund by about 1%; half the days moving more than 50% is no
    # return series but prices (all positive) or percent points (1.2 for 1.2%).
    # A fund cannot lose 100% or more in a period either.
    typical = float(np.median(np.abs(data)))
    if np.all(data > 0) and typical > 0.5:
        raise BadInput(
            f"{name} look like prices (typical value {typical:,.2f}), not returns; pass "
            "daily returns, e.g. =B3/B2-1 filled down beside the prices"
        )
    if typical > 0.5 or np.any(data <= -1):
        raise BadInput(
            f"{name} look like percent points (typical size {typical:.2f}, lowest "
            f"{data.min():.2f}); pass 0.012 for 1.2%"
        )
    return header, data


def _weights(value: Any, count: int, name: str = "weights") -> Any:
    import numpy as np

    cells = [c for row in _rows(value, name) for c in row]
    if len(cells) != count:
        raise BadInput(f"{name} has {len(cells)} cells for {count} return columns")
    return np.array([_number(c, name) for c in cells], dtype=float)


# --- the functions -------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg("symbol", doc="a ticker, e.g. VTI")
@xw.arg("as_of", doc="the last date to look at (blank: today)")
@xw.arg("prices", ndim=2, doc="the Prices table with its header, e.g. tblPrices[#All] (optional)")
@readable_errors
def xlrb_price(symbol, as_of=None, prices=None):
    """The close a run would use: a manual row of the Prices table, else the local price
    cache (filled by Refresh Prices), else the table's other rows (those a run with a
    price file wrote)."""
    from xl_rebalancer.models.inputs import Portfolio
    from xl_rebalancer.prices.service import latest_quotes, market_provider

    ticker = _symbol(symbol)
    day = _date(as_of, "as_of", default=dt.date.today())
    rows = _table(prices, "Prices", "prices")
    market = market_provider("auto", None, network=False)
    found = latest_quotes(Portfolio(prices=tuple(rows)), [ticker], day, market=market)
    if ticker not in found.quotes:
        where = "the price cache or the prices range" if rows else "the price cache"
        raise BadInput(
            f"no price for {ticker} up to {day} in {where}; run Refresh Prices, or pass the "
            "Prices table as the third argument (tblPrices[#All])"
        )
    return found.quotes[ticker].price


@xw.func(category=CATEGORY)
@xw.arg("holdings", ndim=2, doc="two columns: symbol and market value")
@xw.arg("targets", ndim=2, doc="two columns: symbol and target weight (blank: none)")
@readable_errors
def xlrb_weights(holdings, targets=None):
    """Current weights (and target weights when given): Symbol, Weight, TargetWeight."""
    values = _pairs(holdings, "holdings")
    goal = _pairs(targets, "targets") if targets is not None else {}
    total = sum(values.values())
    if total <= 0:
        raise BadInput("holdings add up to zero")
    symbols = list(values) + [s for s in goal if s not in values]
    header = ["Symbol", "Weight"] + (["TargetWeight"] if goal else [])
    return [header] + [
        [s, values.get(s, 0.0) / total] + ([goal.get(s, 0.0)] if goal else []) for s in symbols
    ]


@xw.func(category=CATEGORY)
@xw.arg("holdings", ndim=2, doc="two columns: symbol and market value")
@xw.arg("targets", ndim=2, doc="two columns: symbol and target weight")
@xw.arg("band_abs", doc="absolute band, e.g. 0.05 (blank: 5%)")
@xw.arg("band_rel", doc="relative band, e.g. 0.25 (blank: 25%)")
@readable_errors
def xlrb_drift(holdings, targets, band_abs=None, band_rel=None):
    """Drift table as the Drift sheet computes it: Symbol, Weight, TargetWeight, Drift,
    Band, OutOfBand."""
    from xl_rebalancer.engine.drift import band_for, is_out_of_band

    values = _pairs(holdings, "holdings")
    goal = _pairs(targets, "targets")
    a = _number(band_abs, "band_abs", default=0.05)
    r = _number(band_rel, "band_rel", default=0.25)
    total = sum(values.values())
    if total <= 0:
        raise BadInput("holdings add up to zero")
    if abs(sum(goal.values()) - 1.0) > 1e-6:
        raise BadInput(f"target weights add up to {sum(goal.values()):.4%}, not 100%")
    out: list[list[Any]] = [["Symbol", "Weight", "TargetWeight", "Drift", "Band", "OutOfBand"]]
    for symbol in list(goal) + [s for s in values if s not in goal]:
        weight = values.get(symbol, 0.0) / total
        target = goal.get(symbol, 0.0)
        band = band_for(target, a, r)
        drift = weight - target
        out.append([symbol, weight, target, drift, band, is_out_of_band(drift, band)])
    return out


@xw.func(category=CATEGORY)
@xw.arg("weights", ndim=2, doc="one weight per return column")
@xw.arg("returns", ndim=2, doc="daily returns, one column per asset (header of symbols allowed)")
@xw.arg("confidence", doc="VaR/CVaR confidence (blank: 0.95)")
@xw.arg("periods", doc="periods per year to annualize volatility (blank: 252)")
@readable_errors
def xlrb_risk(weights, returns, confidence=None, periods=None):
    """Volatility (annualized), and one-day historical VaR and CVaR, as positive losses."""
    from xl_rebalancer.engine.measures import portfolio_risk

    _, data = _returns(returns)
    w = _weights(weights, data.shape[1])
    level = _number(confidence, "confidence", default=0.95)
    if not 0.5 <= level < 1:
        raise BadInput("confidence must be between 0.5 and 1 (e.g. 0.95)")
    year = _number(periods, "periods", default=252.0)
    if year <= 0:
        raise BadInput("periods must be more than 0 (252 for daily returns)")
    figures = portfolio_risk(data, w, level, year)
    return [["Volatility", figures.volatility], ["VaR", figures.var], ["CVaR", figures.cvar]]


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc="daily returns, one column per asset, header of symbols")
@xw.arg("strategy", doc="min_variance, max_sharpe, risk_parity, hrp, min_cvar, ...")
@xw.arg("risk_free_rate", doc="annual, e.g. 0.02 (blank: 2%, or the settings range's)")
@xw.arg("target_volatility", doc="for target_volatility, e.g. 0.10")
@xw.arg("settings", ndim=2, doc="Setting and Value rows, e.g. tblSettings[#All] (optional)")
@xw.arg("views", ndim=2, doc="the Views table with its header, for black_litterman")
@xw.arg("targets", ndim=2, doc="the Targets table with its header: limits and a CASH weight")
@readable_errors
def xlrb_optimize(
    returns,
    strategy,
    risk_free_rate=None,
    target_volatility=None,
    settings=None,
    views=None,
    targets=None,
):
    """Optimized weights by strategy, as Symbol and Weight rows: what the run writes on
    the OptimizedTargets sheet for the same returns, settings, views and targets."""
    from xl_rebalancer.engine.allocation import optimized_targets, views_outside
    from xl_rebalancer.engine.strategies import STRATEGIES
    from xl_rebalancer.models.inputs import Portfolio
    from xl_rebalancer.plugins import names
    from xl_rebalancer.workbook.reader import range_settings

    header, data = _returns(returns)
    symbols = header or [f"Asset{i + 1}" for i in range(data.shape[1])]
    if len(set(symbols)) != len(symbols):
        raise BadInput("returns header names a symbol twice")
    settings_rows = None
    if settings is not None and settings != "":
        settings_rows = _rows(settings, "settings")
    given = range_settings(settings_rows or [])
    update: dict[str, Any] = {}
    for name, value in (
        ("strategy", strategy),
        ("risk_free_rate", risk_free_rate),
        ("target_volatility", target_volatility),
    ):
        if value is not None and value != "":
            update[name] = _setting(name, value)
    chosen = given.model_copy(update=update)
    if chosen.strategy == "targets":
        raise BadInput(
            "strategy is blank or 'targets' (the Targets sheet as given); choose one of "
            + ", ".join((*STRATEGIES, *names("strategy")))
        )
    portfolio = Portfolio(
        settings=chosen,
        views=tuple(_table(views, "Views", "views")),
        targets=tuple(_table(targets, "Targets", "targets")),
    )
    for view, _field, why in views_outside(portfolio, symbols):
        raise BadInput(f"views row {view.row}: {why}")
    for row in portfolio.targets:
        if row.symbol and row.symbol != "CASH" and row.symbol not in symbols:
            raise BadInput(f"targets row {row.row}: {row.symbol} has no returns column")
    if chosen.strategy == "black_litterman" and not portfolio.views:
        raise BadInput(
            "black_litterman without views is its prior portfolio (equal weights); pass the "
            "Views table as views, or choose equal_weight"
        )
    result = optimized_targets(portfolio, symbols, data)
    return [["Symbol", "Weight"]] + [
        [t.symbol, float(t.target_weight)] for t in result.portfolio.targets
    ]


@xw.func(category=CATEGORY)
@xw.arg("shares", doc="shares in the lot")
@xw.arg("cost_basis", doc="the lot's total cost basis")
@xw.arg("acquired", doc="acquisition date")
@xw.arg("price", doc="price per share now")
@xw.arg("as_of", doc="sale date (blank: today)")
@readable_errors
def xlrb_lot_gain(shares, cost_basis, acquired, price, as_of=None):
    """A lot's unrealized gain (negative: a loss) and its term if sold on as_of: ST or LT."""
    from xl_rebalancer.engine.lots import holding_term

    count = _number(shares, "shares")
    basis = _number(cost_basis, "cost_basis")
    start = _date(acquired, "acquired")
    day = _date(as_of, "as_of", default=dt.date.today())
    if day < start:
        raise BadInput(f"as_of {day} is before the acquisition {start}")
    gain = count * _number(price, "price") - basis
    return [[round(gain, 2), holding_term(start, day)]]


@xw.func(category=CATEGORY)
@xw.arg("symbol", doc="the symbol you want to sell at a loss or buy")
@xw.arg("trade_date", doc="the date of the sale or purchase")
@xw.arg("transactions", ndim=2, doc="the Transactions table with its header")
@xw.arg("window_days", doc="days either side (blank: 30)")
@xw.arg("side", doc="sell (at a loss), buy, or blank for both")
@xw.arg("lots", ndim=2, doc="the TaxLots table with its header: its purchases count too")
@xw.arg("accounts", ndim=2, doc="the Accounts table: sales in IRAs are no loss sales")
@xw.arg("targets", ndim=2, doc="the Targets table: IdenticalTo funds count as the same")
@xw.arg("lot_id", doc="the lot you would sell (its own purchase does not count)")
@xw.arg("identical", ndim=2, doc="the Identical table: its funds count as the same")
@readable_errors
def xlrb_wash_check(
    symbol,
    trade_date,
    transactions,
    window_days=None,
    side=None,
    lots=None,
    accounts=None,
    targets=None,
    lot_id=None,
    identical=None,
):
    """`clear`, or `blocked: ...` naming what on record would make the trade a wash sale,
    by the rules of a run: for a sale at a loss, purchases of the fund or one named
    IdenticalTo (on Targets or the Identical sheet, as a run reads both) within the
    window in any account (an IRA's too), the same day included; for a purchase, loss
    sales in taxable accounts within the window. `identical` comes last so formulas
    written before it keep their meaning."""
    from xl_rebalancer.engine.wash import wash_check
    from xl_rebalancer.models.inputs import Account, Portfolio
    from xl_rebalancer.models.types import to_text

    ticker = _symbol(symbol)
    day = _date(trade_date, "trade_date")
    days = _setting("wash_sale_days", 30 if window_days in (None, "") else window_days)
    which = str(side or "").strip().lower() or "both"
    if which not in {"sell", "buy", "both"}:
        raise BadInput(f"side must be sell, buy or blank (both), not {side!r}")
    moves = _table(transactions, "Transactions", "transactions")
    held = _table(lots, "TaxLots", "lots")
    kinds = _table(accounts, "Accounts", "accounts")
    if not kinds:  # unknown accounts are taken as taxable: every sale may be a loss sale
        named = dict.fromkeys(r.account for r in (*moves, *held))
        kinds = [Account(account=name, type="taxable") for name in named]
    own = None
    if lot_id not in (None, ""):
        wanted = to_text(lot_id)  # a LotId cell's rule: 7.0 is lot "7"
        mine = [lot for lot in held if lot.lot_id == wanted]
        if not mine:
            raise BadInput(f"lot {wanted} is not in the lots range")
        if len(mine) > 1:
            raise BadInput(f"lot {wanted} is in more than one account; give a LotId used once")
        if mine[0].symbol != ticker:
            raise BadInput(f"lot {wanted} holds {mine[0].symbol}, not {ticker}")
        own = (mine[0].account, mine[0].lot_id)
    household = Portfolio(
        transactions=tuple(moves),
        lots=tuple(held),
        accounts=tuple(kinds),
        targets=tuple(_table(targets, "Targets", "targets")),
        identical=tuple(_table(identical, "Identical", "identical")),
    )
    found = wash_check(household, ticker, day, days, which, own)  # type: ignore[arg-type]
    return "clear" if not found else "blocked: " + "; ".join(found)


UDFS: Sequence[Callable[..., Any]] = (
    xlrb_price,
    xlrb_weights,
    xlrb_drift,
    xlrb_risk,
    xlrb_optimize,
    xlrb_lot_gain,
    xlrb_wash_check,
)
