"""Cell values of a workbook's sheets, read straight from the package's XML.

Reading is what `validate` and every run start with, and on a household of 20,000 tax
lots openpyxl's read-only reader spent 1.4 s building a cell per value, after 0.17 s of
importing itself and numpy. This reader gives the same values openpyxl's
`iter_rows(values_only=True)` gives with `data_only=True` (numbers as int or float,
shared and inline strings, TRUE/FALSE, error codes, dates by their number format and
the workbook's 1900 or 1904 calendar, the saved result of a formula) from one pass of
the C parser over each sheet, so both stay interchangeable: a test reads the same
workbooks both ways. It also notes the formula cells that carry no saved result on the
same pass.

Every part was checked for a DTD by `safety.check_package` before anything here runs
(the read path calls it first), which is what makes the standard library's parser safe
on this untrusted input; a part that changed since is checked again in memory.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import XMLPullParser, fromstring, iterparse

from ..errors import WorkbookError
from .package import NS_MAIN, NS_REL, REL_TABLE, TableRef, relationships
from .safety import DTD

_C = f"{{{NS_MAIN}}}c"
_V = f"{{{NS_MAIN}}}v"
_F = f"{{{NS_MAIN}}}f"
_T = f"{{{NS_MAIN}}}t"
_R = f"{{{NS_MAIN}}}r"
_IS = f"{{{NS_MAIN}}}is"
_SI = f"{{{NS_MAIN}}}si"
_ROW = f"{{{NS_MAIN}}}row"
_XF = f"{{{NS_MAIN}}}xf"
_CELL_XFS = f"{{{NS_MAIN}}}cellXfs"
_NUM_FMT = f"{{{NS_MAIN}}}numFmt"
_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
_SHARED_STRINGS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)
_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"

# Excel's built-in number formats that show a date or time (ECMA-376 part 1, §18.8.30),
# the ones openpyxl knows; 46 is [h]:mm:ss, a duration.
_BUILTIN_DATES = {
    14: "mm-dd-yy",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: "m/d/yy h:mm",
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mmss.0",
}
# Quoted text and bracketed locale or colour codes are not date letters ([h] is).
_NOT_DATE_LETTERS = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_LETTER = re.compile(r"(?<![_\\])[dmhysDMHYS]")
_DURATION = re.compile(r"\[hh?\](:mm(:ss(\.0*)?)?)?|\[mm?\](:ss(\.0*)?)?|\[ss?\](\.0*)?", re.I)
_ISO = re.compile(
    r"(?P<date>(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2}))?T?"
    r"(?P<time>(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})"
    r"(?P<microsecond>\.\d{1,3})?)?)?Z?"
)
# A text cell's shared-string index, whatever the namespace prefix and attribute order.
_STRING_REFS = re.compile(rb"""<(?:\w+:)?c\b[^>]*?\bt=["']s["'][^>]*>\s*<(?:\w+:)?v>\s*(\d+)\s*<""")
_CHUNK = 1 << 16  # small: a stream stopped early (or restarted) parses little
_OVERLAP = 256
_WHOLE_STRINGS = 16 << 20  # a shared-string part up to this size is read whole, once
_WINDOWS_EPOCH = dt.datetime(1899, 12, 30)
_MAC_EPOCH = dt.datetime(1904, 1, 1)


def is_date_format(code: str | None) -> bool:
    """Whether a number format shows a date or time: a d, m, y, h or s outside quotes and
    locale brackets in its first section (the rule openpyxl and xlrd use)."""
    if code is None:
        return False
    first = _NOT_DATE_LETTERS.sub("", code.split(";")[0])
    return _DATE_LETTER.search(first) is not None


def is_duration_format(code: str | None) -> bool:
    """Whether a number format shows elapsed time ([h]:mm), read as a timedelta."""
    return code is not None and _DURATION.search(code.split(";")[0]) is not None


def column_letter(number: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_number(letters: str) -> int:
    """A → 1, AA → 27 (either case)."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?$")


def range_bounds(ref: str) -> tuple[int, int, int, int]:
    """'B2:D40' → (min_col, min_row, max_col, max_row); one cell is a range of one."""
    match = _REF.match(ref.strip())
    if match is None:
        raise ValueError(f"{ref!r} is not a cell range")
    first_col, first_row, last_col, last_row = match.groups()
    if last_col is None:
        last_col, last_row = first_col, first_row
    return column_number(first_col), int(first_row), column_number(last_col), int(last_row)


def serial_to_datetime(
    value: float, epoch: dt.datetime, duration: bool = False
) -> dt.datetime | dt.time | dt.timedelta:
    """An Excel date serial as openpyxl reads it: a time of day below 1, a datetime
    otherwise (the 1900 calendar's phantom 29 February shifts the first 60 days), or a
    duration for an elapsed-time format; milliseconds are the finest unit Excel keeps."""
    if duration:
        span = dt.timedelta(days=value)
        if span.microseconds:
            span = dt.timedelta(
                seconds=span.total_seconds() // 1, microseconds=round(span.microseconds, -3)
            )
        return span
    day, fraction = divmod(value, 1)
    diff = dt.timedelta(milliseconds=round(fraction * 86400 * 1000))
    if 0 <= value < 1 and diff.days == 0:
        minutes, seconds = divmod(diff.seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return dt.time(hours, minutes, seconds, diff.microseconds)
    if 0 < value < 60 and epoch == _WINDOWS_EPOCH:
        day += 1
    return epoch + dt.timedelta(days=day) + diff


def _iso(text: str) -> Any:
    """A t="d" cell's ISO 8601 value: a date, a time or a datetime."""
    match = _ISO.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(text)
    parts = match.groupdict()
    micro = int(float(parts["microsecond"]) * 1_000_000) if parts["microsecond"] else 0
    clock = (int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0))
    if not parts["date"]:
        return dt.time(*clock, micro)
    day = (int(parts["year"]), int(parts["month"]), int(parts["day"]))
    if not parts["time"]:
        return dt.date(*day)
    return dt.datetime(*day, *clock, micro)


class Package:
    """One open workbook package: its sheets by title, shared strings and date styles."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            self._names = set(self._zip.namelist())
            workbook = self._workbook_part()
            self.sheets, self._epoch = self._read_workbook(workbook)
            rels = self._rels(workbook)
            self._strings_part = next((t for _, k, t in rels if k == _SHARED_STRINGS), None)
            styles = next((t for _, k, t in rels if k == _STYLES), None)
            self._dates, self._durations = self._read_styles(styles)
        except WorkbookError:
            self.close()
            raise
        except Exception as exc:  # BadZipFile, a missing part, XML that does not parse
            self.close()
            raise WorkbookError(f"{self.path}: not a readable Excel workbook ({exc})") from exc
        self._strings: dict[int, str] = {}
        self._strings_whole = False  # the table was read whole: nothing more to find
        self._cursor: tuple[Iterator[Any], int] | None = None  # a large table's stream

    def close(self) -> None:
        if hasattr(self, "_zip"):
            self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def titles(self) -> list[str]:
        return list(self.sheets)

    def rows(
        self,
        title: str,
        min_row: int = 1,
        min_col: int = 1,
        max_col: int | None = None,
        uncalculated: set[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """The sheet's rows from `min_row` on, each a tuple of the values from `min_col`
        to `max_col` (to the row's last cell without one), a missing row as blanks: the
        shape openpyxl's read-only `iter_rows(values_only=True)` gives. Formula cells
        without a saved result (a program that does not calculate saved the file: they
        read as blank, which is not what the user typed) are added to `uncalculated`."""
        data = self._part(self.sheets[title])
        strings: dict[int, str] = {}
        if b't="s"' in data or b"t='s'" in data:
            strings = self._shared_strings({int(i) for i in _STRING_REFS.findall(data)})
        empty: tuple[Any, ...] = (None,) * (max_col + 1 - min_col) if max_col else ()
        columns: dict[str, int] = {}
        dates, durations, epoch = self._dates, self._durations, self._epoch
        counter = min_row
        row_number = 0
        for _, element in iterparse(io.BytesIO(data), events=("end",)):
            if element.tag != _ROW:
                continue
            r = element.get("r")
            row_number = int(float(r)) if r is not None else row_number + 1
            if row_number < counter:
                element.clear()
                continue
            while counter < row_number:
                counter += 1
                yield empty
            counter += 1
            cells: list[tuple[int, Any]] = []
            column = 0
            for cell in element:
                ref = cell.get("r")
                if ref is None:
                    column += 1
                else:
                    letters = ref.rstrip("0123456789")
                    number = columns.get(letters)
                    if number is None:
                        number = columns[letters] = column_number(letters)
                    column = number
                if column < min_col or (max_col is not None and column > max_col):
                    continue
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    inline = cell.find(_IS)
                    value = _text(inline) if inline is not None else None
                else:
                    value = cell.findtext(_V) or None
                    if value is None:
                        if uncalculated is not None and cell.find(_F) is not None:
                            uncalculated.add(ref or f"{column_letter(column)}{row_number}")
                    elif kind == "n":
                        value = (
                            float(value)
                            if "." in value or "E" in value or "e" in value
                            else int(value)
                        )
                        style = int(cell.get("s") or 0)
                        if style in dates:
                            try:
                                value = serial_to_datetime(value, epoch, style in durations)
                            except (OverflowError, ValueError):
                                value = "#VALUE!"  # a date Python's calendar cannot hold
                    elif kind == "s":
                        index = int(value)
                        if index not in strings:  # a reference the pattern did not see
                            strings = self._shared_strings({index})
                        value = strings[index]
                    elif kind == "b":
                        value = bool(int(value))
                    elif kind == "d":
                        value = _iso(value)
                cells.append((column, value))
            element.clear()
            last = max_col or (cells[-1][0] if cells else 0)
            if last < min_col:
                yield ()
                continue
            values: list[Any] = [None] * (last + 1 - min_col)
            for number, value in cells:
                if number <= last:
                    values[number - min_col] = value
            yield tuple(values)

    def tables(self) -> dict[str, list[TableRef]]:
        """Excel tables (ListObjects) per sheet title."""
        out: dict[str, list[TableRef]] = {}
        for title, part in self.sheets.items():
            out[title] = []
            for _, kind, target in self._rels(part):
                if kind == REL_TABLE and target in self._names:
                    table = fromstring(self._part(target))
                    name = table.get("displayName") or table.get("name", "")
                    out[title].append(TableRef(name, table.get("ref", "")))
        return out

    def _part(self, name: str) -> bytes:
        data = self._zip.read(name)
        if b"<!" in data and DTD.search(data):
            raise WorkbookError(f"{self.path}: refused, part {name} declares a DTD")
        return data

    def _workbook_part(self) -> str:
        for _, kind, target in self._rels(""):
            if kind == _OFFICE_DOCUMENT and target in self._names:
                return target
        return "xl/workbook.xml"

    def _rels(self, part: str) -> list[tuple[str, str, str]]:
        """A part's relationships as (Id, Type, absolute target)."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", name + ".rels")
        return relationships(self._part(rels), folder) if rels in self._names else []

    def _read_workbook(self, part: str) -> tuple[dict[str, str], dt.datetime]:
        targets = {rid: target for rid, _, target in self._rels(part)}
        sheets: dict[str, str] = {}
        epoch = _WINDOWS_EPOCH
        for _, element in iterparse(io.BytesIO(self._part(part))):
            if element.tag == f"{{{NS_MAIN}}}sheet":
                target = targets.get(element.get(f"{{{NS_REL}}}id", ""))
                if target in self._names:
                    sheets[element.get("name", "")] = target
            elif element.tag == f"{{{NS_MAIN}}}workbookPr" and element.get(
                "date1904", ""
            ).lower() in {"1", "true"}:
                epoch = _MAC_EPOCH
        return sheets, epoch

    def _read_styles(self, part: str | None) -> tuple[set[int], set[int]]:
        """Which cell styles (cellXfs positions) show dates, and which durations."""
        if part is None or part not in self._names:
            return set(), set()
        custom: dict[int, str] = {}
        dates: set[int] = set()
        durations: set[int] = set()
        for _, element in iterparse(io.BytesIO(self._part(part))):
            if element.tag == _NUM_FMT:
                custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
            elif element.tag == _CELL_XFS:
                for index, xf in enumerate(element.iterfind(_XF)):
                    number = int(xf.get("numFmtId", "0"))
                    code = custom.get(number, _BUILTIN_DATES.get(number))
                    if is_date_format(code):
                        dates.add(index)
                    if is_duration_format(code):
                        durations.add(index)
        return dates, durations

    def _shared_strings(self, needed: set[int]) -> dict[int, str]:
        """The shared strings at `needed` (with those read before). A table of ordinary
        size is read whole, once. A large one can hold millions of strings the input
        sheets never use (3 million took 783 MB in validate when all were kept), so it is
        streamed from the zip keeping only what the sheets read refer to, each item
        dropped once passed; the stream stops at the last index wanted and resumes there
        for the next sheet. An index past the table raises IndexError."""
        missing = needed - self._strings.keys()
        if not missing:
            return self._strings
        part = self._strings_part
        if part is None or part not in self._names or self._strings_whole:
            raise IndexError(f"shared string {min(missing)} is not in the table")
        if self._zip.getinfo(part).file_size <= _WHOLE_STRINGS:
            self._strings_whole = True
            for _, element in iterparse(io.BytesIO(self._part(part))):
                if element.tag == _SI:
                    # openpyxl drops the escape's x005F_ prefix; so do we.
                    self._strings[len(self._strings)] = _text(element).replace("x005F_", "")
                    element.clear()
            return self._shared_strings(missing)
        if self._cursor is None or min(missing) <= self._cursor[1]:
            self._cursor = (iter(self._stream(part)), -1)
        items, index = self._cursor
        last = max(missing)
        for element in items:
            if element.tag != _SI:
                continue
            index += 1
            if index in missing:
                self._strings[index] = _text(element).replace("x005F_", "")
            if index >= last:
                break
        self._cursor = (items, index)
        if last > index:
            raise IndexError(f"shared string {last} of {index + 1}")
        return self._strings

    def _stream(self, name: str) -> Iterator[Any]:
        """A part's elements as they end, read from the zip in chunks (each checked for a
        DTD, the window overlapping so none hides across a boundary); every finished child
        of the root is dropped, so memory stays one item deep whatever the part's size."""
        parser = XMLPullParser(events=("start", "end"))
        root = None
        depth = 0
        tail = b""
        with self._zip.open(name) as handle:
            while chunk := handle.read(_CHUNK):
                window = tail + chunk
                if b"<!" in window and DTD.search(window):
                    raise WorkbookError(f"{self.path}: refused, part {name} declares a DTD")
                tail = chunk[-_OVERLAP:]
                parser.feed(chunk)
                for event, element in parser.read_events():
                    if event == "start":
                        depth += 1
                        root = element if root is None else root
                        continue
                    depth -= 1
                    yield element
                    if depth == 1 and root is not None:
                        root.clear()  # the child just finished, and any before it
        parser.close()


def _text(element: Any) -> str:
    """A string item's text: its own <t> and its runs' <t>, not the phonetic guide."""
    parts = []
    plain = element.find(_T)
    if plain is not None and plain.text:
        parts.append(plain.text)
    for run in element.iterfind(_R):
        text = run.find(_T)
        if text is not None and text.text:
            parts.append(text.text)
    return "".join(parts)
