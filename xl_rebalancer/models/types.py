"""Annotated field types that accept what people actually type into Excel cells.

Coercion lives here (not in the reader) so the UDFs and the xlwings adapter, which
receive the same raw cell values, get exactly the same rules.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

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


def to_upper_token(value: Any) -> Any:
    token = to_token(value)
    return token.upper() if isinstance(token, str) else token


Number = Annotated[float, BeforeValidator(to_number)]
NonNegative = Annotated[float, BeforeValidator(to_number), Field(ge=0)]
Positive = Annotated[float, BeforeValidator(to_number), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(to_number), Field(ge=0, le=1)]
Date = Annotated[dt.date, BeforeValidator(to_date)]
Bool = Annotated[bool, BeforeValidator(to_bool)]
Symbol = Annotated[str, BeforeValidator(to_symbol), Field(min_length=1, max_length=32)]
Text = Annotated[str, BeforeValidator(to_text), Field(min_length=1)]
SymbolList = Annotated[tuple[str, ...], BeforeValidator(to_symbol_list)]

AccountType = Annotated[Literal["taxable", "tax_deferred", "tax_exempt"], BeforeValidator(to_token)]
ConstraintScope = Annotated[Literal["symbol", "asset_class", "account"], BeforeValidator(to_token)]
ActionType = Annotated[
    Literal["split", "cash_dividend", "stock_dividend", "merger", "spinoff", "symbol_change"],
    BeforeValidator(to_token),
]
ActionStatus = Annotated[Literal["pending", "applied"], BeforeValidator(to_token)]
TradeAction = Annotated[Literal["BUY", "SELL"], BeforeValidator(to_upper_token)]
PriceSourceName = Annotated[str, BeforeValidator(to_token)]
