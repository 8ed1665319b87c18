"""An xlwings engine whose "Excel" is an openpyxl workbook in memory, for the tests.

No Excel runs on Linux. xlwings separates its public API (`xw.Book`, `Sheet`, `Range`,
the conversion pipeline) from per-platform "impl" objects that talk to Excel; this
module is such an impl over openpyxl, behaving as Excel does where it matters to us
(numbers come back as floats, a leading apostrophe makes text, a leading = makes a
formula, tables and charts are workbook objects). Everything above it, the macros,
the adapter and xlwings' own API and converters, is the real code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.table import Table, TableStyleInfo


def _impl(rng: Any) -> RangeImpl:
    return rng.impl if hasattr(rng, "impl") else rng


class EngineImpl:
    name = "openpyxl-test"
    type = "desktop"

    @staticmethod
    def prepare_xl_data_element(x: Any, options: Any) -> Any:
        if isinstance(x, dt.date) and not isinstance(x, dt.datetime):
            return dt.datetime(x.year, x.month, x.day)
        return x

    @staticmethod
    def clean_value_data(
        data: Any, datetime_builder: Any, empty_as: Any, number_builder: Any, err_to_str: Any
    ) -> Any:
        out = []
        for row in data:
            clean = []
            for c in row:
                if c is None or c == "":
                    c = empty_as
                elif number_builder is not None and isinstance(c, float):
                    c = number_builder(c)
                clean.append(c)
            out.append(clean)
        return out


class AppImpl:
    pid = 0
    version = "16.0"

    def __init__(self) -> None:
        self.alerts: list[tuple[str, str | None]] = []
        self.screen_updating = True
        self.books: list[BookImpl] = []

    @property
    def engine(self) -> EngineImpl:
        return EngineImpl()

    def alert(self, prompt: str, title: str | None, buttons: Any, mode: Any, callback: Any) -> str:
        self.alerts.append((prompt, title))
        return "ok"


class BookImpl:
    def __init__(self, path: Path, app: AppImpl) -> None:
        self.path = Path(path)
        self.wb = load_workbook(self.path, keep_vba=self.path.suffix == ".xlsm")
        self.app = app
        self.charts: dict[str, list[dict[str, Any]]] = {}  # per sheet title
        app.books.append(self)

    @property
    def fullname(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sheets(self) -> SheetsImpl:
        return SheetsImpl(self)

    def save(self, path: str | None = None, password: Any = None) -> None:
        self.wb.save(path or self.path)


class SheetsImpl:
    def __init__(self, book: BookImpl) -> None:
        self.book = book

    def __call__(self, key: int | str) -> SheetImpl:
        wb = self.book.wb
        ws = wb.worksheets[key - 1] if isinstance(key, int) else wb[key]
        return SheetImpl(self.book, ws)

    def __len__(self) -> int:
        return len(self.book.wb.worksheets)

    def __iter__(self) -> Any:
        return (SheetImpl(self.book, ws) for ws in self.book.wb.worksheets)

    def add(self, before: Any = None, after: Any = None, name: str | None = None) -> SheetImpl:
        wb = self.book.wb
        index = len(wb.worksheets)
        if before is not None:
            index = wb.worksheets.index(before.ws)
        elif after is not None:
            index = wb.worksheets.index(after.ws) + 1
        ws = wb.create_sheet(name or f"Sheet{len(wb.worksheets) + 1}", index)
        return SheetImpl(self.book, ws)


class SheetImpl:
    def __init__(self, book: BookImpl, ws: Any) -> None:
        self.book_impl = book
        self.ws = ws

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SheetImpl) and other.ws is self.ws

    def __hash__(self) -> int:
        return id(self.ws)

    @property
    def book(self) -> BookImpl:
        return self.book_impl

    @property
    def name(self) -> str:
        return self.ws.title

    @name.setter
    def name(self, value: str) -> None:
        self.ws.title = value

    @property
    def index(self) -> int:
        return self.book_impl.wb.worksheets.index(self.ws) + 1

    def range(self, arg1: Any, arg2: Any = None) -> RangeImpl:
        if isinstance(arg1, RangeImpl):
            r1, c1 = arg1.r1, arg1.c1
        elif isinstance(arg1, tuple):
            r1, c1 = arg1
        else:
            c1, r1, c2, r2 = range_boundaries(str(arg1).replace("$", "").split(",")[0])
            if arg2 is None:
                return RangeImpl(self, r1, c1, r2 or r1, c2 or c1, str(arg1))
        if arg2 is None:
            return RangeImpl(self, r1, c1, r1, c1)
        if isinstance(arg2, RangeImpl):
            r2, c2 = arg2.r2, arg2.c2
        elif isinstance(arg2, tuple):
            r2, c2 = arg2
        else:
            c2, r2, _, _ = range_boundaries(str(arg2).replace("$", ""))
        return RangeImpl(self, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))

    @property
    def used_range(self) -> RangeImpl:
        return RangeImpl(self, 1, 1, max(self.ws.max_row, 1), max(self.ws.max_column, 1))

    @property
    def tables(self) -> TablesImpl:
        return TablesImpl(self)

    @property
    def charts(self) -> ChartsImpl:
        return ChartsImpl(self)


class RangeImpl:
    max_cells_per_read = None
    max_cells_per_write = None
    api = "openpyxl"  # xlwings' writer only checks that a native object exists

    def __init__(
        self, sheet: SheetImpl, r1: int, c1: int, r2: int, c2: int, text: str | None = None
    ) -> None:
        self.sheet = sheet
        self.r1, self.c1, self.r2, self.c2 = r1, c1, r2, c2
        self.text = text  # a union such as "B1:B9,D1:E9" (chart sources)
        self.options: dict[str, Any] = {}
        self.arg1_input = text or ""

    def __len__(self) -> int:
        return (self.r2 - self.r1 + 1) * (self.c2 - self.c1 + 1)

    def __call__(self, row: int, col: int) -> RangeImpl:
        return RangeImpl(
            self.sheet, self.r1 + row - 1, self.c1 + col - 1, self.r1 + row - 1, self.c1 + col - 1
        )

    @property
    def row(self) -> int:
        return self.r1

    @property
    def column(self) -> int:
        return self.c1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.r2 - self.r1 + 1, self.c2 - self.c1 + 1)

    @property
    def address(self) -> str:
        if self.text and "," in self.text:
            return self.text
        first = f"${get_column_letter(self.c1)}${self.r1}"
        if (self.r1, self.c1) == (self.r2, self.c2):
            return first
        return f"{first}:${get_column_letter(self.c2)}${self.r2}"

    def get_address(self, *args: Any) -> str:
        return self.address

    @property
    def left(self) -> float:
        return sum(
            (self.sheet.ws.column_dimensions[get_column_letter(c)].width or 8.43) * 7
            for c in range(1, self.c1)
        )

    @property
    def top(self) -> float:
        return (self.r1 - 1) * 15.0

    @staticmethod
    def _excel(value: Any) -> Any:
        """What Excel hands back: every number a float."""
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @property
    def raw_value(self) -> Any:
        ws = self.sheet.ws
        rows = [
            [self._excel(ws.cell(row=r, column=c).value) for c in range(self.c1, self.c2 + 1)]
            for r in range(self.r1, self.r2 + 1)
        ]
        if len(rows) == 1 and len(rows[0]) == 1:
            return rows[0][0]
        return rows

    @raw_value.setter
    def raw_value(self, data: Any) -> None:
        if not isinstance(data, list | tuple):
            data = [[data]]
        elif data and not isinstance(data[0], list | tuple):
            data = [data]
        ws = self.sheet.ws
        for i, row in enumerate(data):
            for j, value in enumerate(row):
                cell = ws.cell(row=self.r1 + i, column=self.c1 + j)
                if isinstance(value, str) and value.startswith("'"):
                    cell.value = value[1:]  # Excel: an apostrophe makes the rest text
                    cell.data_type = "s"
                    cell.quotePrefix = True
                else:
                    cell.value = value  # "=..." becomes a formula, as in Excel
                    cell.quotePrefix = False

    def clear_contents(self) -> None:
        for r in range(self.r1, self.r2 + 1):
            for c in range(self.c1, self.c2 + 1):
                self.sheet.ws.cell(row=r, column=c).value = None

    @property
    def number_format(self) -> str:
        return self.sheet.ws.cell(row=self.r1, column=self.c1).number_format

    @number_format.setter
    def number_format(self, fmt: str) -> None:
        for r in range(self.r1, self.r2 + 1):
            for c in range(self.c1, self.c2 + 1):
                self.sheet.ws.cell(row=r, column=c).number_format = fmt

    @property
    def ref(self) -> str:
        return self.address.replace("$", "")


class TableImpl:
    def __init__(self, sheet: SheetImpl, table: Table) -> None:
        self.sheet = sheet
        self.table = table

    @property
    def name(self) -> str:
        return self.table.displayName

    @property
    def range(self) -> RangeImpl:
        c1, r1, c2, r2 = range_boundaries(self.table.ref)
        return RangeImpl(self.sheet, r1, c1, r2, c2)

    def resize(self, rng: Any) -> None:
        from openpyxl.worksheet.table import TableColumn

        rng = _impl(rng)
        self.table.ref = rng.ref
        if self.table.autoFilter is not None:
            self.table.autoFilter.ref = rng.ref
        ws = self.sheet.ws
        self.table.tableColumns = [
            TableColumn(id=i + 1, name=str(ws.cell(row=rng.r1, column=c).value or f"Column{c}"))
            for i, c in enumerate(range(rng.c1, rng.c2 + 1))
        ]


class TablesImpl:
    def __init__(self, sheet: SheetImpl) -> None:
        self.sheet = sheet

    def __iter__(self) -> Any:
        return (TableImpl(self.sheet, t) for t in self.sheet.ws.tables.values())

    def __len__(self) -> int:
        return len(self.sheet.ws.tables)

    def add(
        self,
        source: Any = None,
        name: str | None = None,
        source_type: Any = None,
        link_source: Any = None,
        has_headers: Any = True,
        destination: Any = None,
        table_style_name: str = "TableStyleMedium2",
    ) -> TableImpl:
        table = Table(displayName=name, ref=_impl(source).ref)
        table.tableStyleInfo = TableStyleInfo(name=table_style_name, showRowStripes=True)
        self.sheet.ws.add_table(table)
        return TableImpl(self.sheet, table)


class ChartImpl:
    """A chart as Excel keeps it: a name, a type, a source range; drawn by openpyxl."""

    def __init__(self, sheet: SheetImpl, record: dict[str, Any]) -> None:
        self.sheet = sheet
        self.record = record

    @property
    def name(self) -> str:
        return self.record["name"]

    @name.setter
    def name(self, value: str) -> None:
        self.record["name"] = value

    @property
    def chart_type(self) -> str:
        return self.record["type"]

    @chart_type.setter
    def chart_type(self, value: str) -> None:
        self.record["type"] = value

    def set_source_data(self, rng: Any, *options: Any) -> None:
        self.record["source"] = _impl(rng).address

    def delete(self) -> None:
        _charts(self.sheet.book, self.sheet).remove(self.record)


def _charts(book: BookImpl, sheet: SheetImpl) -> list[dict[str, Any]]:
    return book.charts.setdefault(sheet.ws.title, [])


class ChartsImpl:
    def __init__(self, sheet: SheetImpl) -> None:
        self.sheet = sheet

    def __iter__(self) -> Any:
        return (ChartImpl(self.sheet, r) for r in list(_charts(self.sheet.book, self.sheet)))

    def __len__(self) -> int:
        return len(_charts(self.sheet.book, self.sheet))

    def add(
        self, left: float, top: float, width: float, height: float, **options: Any
    ) -> ChartImpl:
        record = {
            "name": options.get("name") or f"Chart {len(self) + 1}",
            "type": options.get("chart_type"),
            "source": None,
            "left": left,
            "top": top,
            "width": width,
            "height": height,
        }
        _charts(self.sheet.book, self.sheet).append(record)
        return ChartImpl(self.sheet, record)


def open_book(path: Path) -> Any:
    """An `xw.Book` over the workbook at `path`, set as the caller of RunPython macros."""
    import xlwings as xw

    app = AppImpl()
    book = xw.Book(impl=BookImpl(path, app))
    book.set_mock_caller()
    return book
