"""Price providers: the workbook's Prices sheet, offline files, (later) Yahoo and a cache."""

from .base import PriceProvider, Quote
from .file import FilePriceProvider

__all__ = ["FilePriceProvider", "PriceProvider", "Quote"]
