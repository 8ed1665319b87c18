"""Annotated field types that accept what people actually type into Excel cells.

Coercion lives here (not in the reader) so the UDFs and the xlwings adapter, which
receive the same raw cell values, get exactly the same rules.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_ERRORS = frozenset(
    {
        "#N/A",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
    }
)
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d*)(\.\d*)?([eE][+-]?\d+)?$")


def safe_text(value: Any) -> Any:
    """Text that Excel would take for a formula (= + - @) gets a leading apostrophe, so a
    symbol, account or file name written by the engine (a sheet, a CSV) can never become
    a formula."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@"}:
        return "'" + value
    return value


def _reject_excel_error(value: Any) -> None:
    if isinstance(value, str) and value.strip().upper() in EXCEL_ERRORS:
        raise ValueError(f"the cell holds the Excel error {value.strip().upper()}")


def to_number(value: Any) -> Any:
    """Numbers, numeric text ("1,250.50", "25%") and nothing else; NaN and inf are refused."""
    _reject_excel_error(value)
    if isinstance(value, bool):
        raise ValueError("expected a number, got TRUE/FALSE")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        percent = text.endswith("%")
        if percent:
            text = text[:-1]
        if text.startswith("$"):
            text = text[1:]
        if not text or not _NUMBER.match(text) or text in {".", "+", "-"}:
            raise ValueError(f"expected a number, got {value!r}")
        number = float(text.replace(",", ""))
        return number / 100.0 if percent else number
    if isinstance(value, (dt.date, dt.datetime)):
        raise ValueError("expected a number, got a date")
    return value


def to_date(value: Any) -> Any:
    """Real Excel dates, Excel serial numbers and ISO text (2024-03-15)."""
    _reject_excel_error(value)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a date, got TRUE/FALSE")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 1 <= value < 2958466:
            raise ValueError(f"expected a date, got the number {value}")
        return EXCEL_EPOCH + dt.timedelta(days=int(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return (
                dt.date.fromisoformat(text[:10]) if len(text) >= 10 else dt.date.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(f"expected a date such as 2024-03-15, got {value!r}") from None
    return value


def to_bool(value: Any) -> Any:
    _reject_excel_error(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"x", "✓"}:
            return True
        if text == "":
            return False
    return value


def to_symbol(value: Any) -> Any:
    """Tickers are upper-cased; a numeric ticker (Tokyo's 7203) arrives as a number."""
    _reject_excel_error(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return value.strip().upper()
    return value


def to_symbol_list(value: Any) -> Any:
    """ "VOO, IVV; SPY" → ("VOO", "IVV", "SPY")."""
    _reject_excel_error(value)
    if isinstance(value, str):
        parts = [to_symbol(p) for p in value.replace(";", ",").split(",")]
        return tuple(p for p in parts if p) or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (to_symbol(value),)
    return value


def to_text(value: Any) -> Any:
    _reject_excel_error(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def to_token(value: Any) -> Any:
    """Enum spellings: "Tax Deferred", "tax-deferred" and "TAX_DEFERRED" all mean tax_deferred."""
    _reject_excel_error(value)
    if isinstance(value, str):
        return "_".join(value.strip().lower().replace("-", " ").replace("_", " ").split())
    return value


ACCOUNT_TYPES = ("taxable", "tax_deferred", "tax_exempt")


def to_buy_in(value: Any) -> Any:
    """A model's Buy cell: TRUE (or x, yes, any) buys the fund in every account type; an
    account type, or several comma-separated, only in those; FALSE or blank nowhere."""
    _reject_excel_error(value)
    if value is None or value is False:
        return None
    if value is True:
        return ACCOUNT_TYPES
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"", "false", "no", "n", "0"}:
            return None
        if text in {"true", "yes", "y", "x", "✓", "1", "any", "all"}:
            return ACCOUNT_TYPES
        return tuple(to_token(p) for p in text.replace(";", ",").split(",") if p.strip())
    if isinstance(value, (int, float)) and value in (0, 1):
        return ACCOUNT_TYPES if value else None
    return value


def to_upper_token(value: Any) -> Any:
    token = to_token(value)
    return token.upper() if isinstance(token, str) else token


# The documented ranges (docs/decisions.md, "What the engine accepts"). A value beyond them is a
# typing slip or test data, never a household, and would take the solvers to their
# numeric limits (a $0.0001 share beside $1e12 of cash is fourteen orders of magnitude
# in one program), so it is refused at its cell before any solver sees it.
MAX_MONEY = 1e10  # cash, basis, cash flow, any amount: ten billion in the base currency
MAX_SHARES = 1e9  # shares in one row
MIN_PRICE, MAX_PRICE = 1e-4, 1e6  # per share, in the base currency
MAX_RATIO = 1e6  # split and merger ratios, both ways
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)  # Excel's first day on


def usable_price(value: float) -> bool:
    """A price the engine may act on: finite and within the documented range."""
    return math.isfinite(value) and MIN_PRICE <= value <= MAX_PRICE


def show_number(value: float) -> str:
    """1e+10 as 10,000,000,000 and 0.0001 as 0.0001: the way a person types them."""
    if value == 0:
        return "0"
    if 1 <= abs(value) < 1e15:
        return f"{value:,.2f}".removesuffix(".00")
    if 1e-6 <= abs(value) < 1:
        return f"{value:.6f}".rstrip("0")
    return f"{value:.3g}"


def _date_range(value: dt.date) -> dt.date:
    """A date the engine can compute with: holding periods, wash-sale windows and
    look-backs add and subtract days and years, and Python's calendar ends at 9999-12-31
    (a purchase dated then passed validate and stopped rebalance with an OverflowError).
    The range is wide for any portfolio and narrow enough for every such sum."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(
            f"{value.isoformat()} is outside the range accepted for a date "
            f"({MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}); check the cell for a "
            "typing slip"
        )
    return value


def _range(lo: float, hi: float, what: str) -> AfterValidator:
    def check(value: float) -> float:
        if value != 0 and abs(value) < 1e-9 and lo <= 0:
            return 0.0  # a billionth of a cent is nothing (and keeps subnormals out)
        if not lo <= value <= hi:
            raise ValueError(
                f"{show_number(value)} is outside the range accepted for {what} "
                f"({show_number(lo)} to {show_number(hi)}); check the cell for a typing slip"
            )
        return value

    return AfterValidator(check)


Number = Annotated[float, BeforeValidator(to_number)]
Money = Annotated[float, BeforeValidator(to_number), _range(-MAX_MONEY, MAX_MONEY, "money")]
MoneyNonNegative = Annotated[
    float, BeforeValidator(to_number), Field(ge=0), _range(0.0, MAX_MONEY, "money")
]
Shares = Annotated[
    float, BeforeValidator(to_number), Field(ge=0), _range(0.0, MAX_SHARES, "a share count")
]
PositiveShares = Annotated[
    float, BeforeValidator(to_number), Field(gt=0), _range(0.0, MAX_SHARES, "a share count")
]
Price = Annotated[
    float, BeforeValidator(to_number), Field(gt=0), _range(MIN_PRICE, MAX_PRICE, "a price")
]
Ratio = Annotated[
    float, BeforeValidator(to_number), Field(gt=0), _range(1 / MAX_RATIO, MAX_RATIO, "a ratio")
]
NonNegative = Annotated[float, BeforeValidator(to_number), Field(ge=0)]
Positive = Annotated[float, BeforeValidator(to_number), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(to_number), Field(ge=0, le=1)]
Date = Annotated[dt.date, BeforeValidator(to_date), AfterValidator(_date_range)]
Bool = Annotated[bool, BeforeValidator(to_bool)]
Symbol = Annotated[str, BeforeValidator(to_symbol), Field(min_length=1, max_length=32)]
Text = Annotated[str, BeforeValidator(to_text), Field(min_length=1)]
SymbolList = Annotated[tuple[str, ...], BeforeValidator(to_symbol_list)]

AccountType = Annotated[Literal["taxable", "tax_deferred", "tax_exempt"], BeforeValidator(to_token)]
# The account types a model's Buy fund is bought in (models.inputs.Security).
BuyIn = Annotated[tuple[AccountType, ...] | None, BeforeValidator(to_buy_in)]
ConstraintScope = Annotated[Literal["symbol", "asset_class", "account"], BeforeValidator(to_token)]
ActionType = Annotated[
    Literal[
        "split",
        "cash_dividend",
        "return_of_capital",
        "stock_dividend",
        "merger",
        "spinoff",
        "symbol_change",
    ],
    BeforeValidator(to_token),
]
ActionStatus = Annotated[Literal["pending", "applied"], BeforeValidator(to_token)]
TradeAction = Annotated[Literal["BUY", "SELL"], BeforeValidator(to_upper_token)]
PriceSourceName = Annotated[str, BeforeValidator(to_token)]
