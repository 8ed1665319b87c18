"""Pydantic models: inputs read from a workbook and results the engine returns."""

from .inputs import (
    Account,
    CashFlow,
    Constraint,
    CorporateAction,
    Holding,
    Portfolio,
    PriceRow,
    Settings,
    Target,
    TaxLot,
    Transaction,
    View,
)
from .results import DriftRow, LogEntry, RebalanceResult, SummaryItem, Trade

__all__ = [
    "Account",
    "CashFlow",
    "Constraint",
    "CorporateAction",
    "DriftRow",
    "Holding",
    "LogEntry",
    "Portfolio",
    "PriceRow",
    "RebalanceResult",
    "Settings",
    "SummaryItem",
    "Target",
    "TaxLot",
    "Trade",
    "Transaction",
    "View",
]
