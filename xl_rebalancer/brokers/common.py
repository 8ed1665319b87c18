"""Reading brokers' CSV downloads loosely: title rows, renamed headers, footers, `$1,234.56`.

Brokers rename columns between releases (Schwab's 2025 `Qty (Quantity)`), put a title
line above the header and legal text below the data, and write money as `$1,234.56`,
`(12.50)` or `--`. A header is found by the columns it must have; each field matches any
of its spellings, including the part before or inside parentheses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..models.brokers import BrokerTransaction

MAX_FILE_BYTES = 50 * 1024 * 1024  # far above any household's download, far below harm
MAX_ROWS = 200_000
MISSING = {"", "--", "-", "n/a", "na", "none", "null", "—"}


def check_file(path: Path) -> None:
    """Refuse, before anything opens it, what no broker download is: a pipe or a device
    (/dev/zero would be read forever), a folder, or more than MAX_FILE_BYTES."""
    import os
    import stat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError([Problem("no such file", path.name)]) from None
    except OSError as exc:
        raise InputError([Problem(f"cannot be read ({exc.strerror or exc})", path.name)]) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError([Problem("is a folder; name the downloaded file", path.name)])
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            [
                Problem(
                    "not a regular file (a pipe, socket or device); name the downloaded file",
                    path.name,
                )
            ]
        )
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(
            [
                Problem(
                    f"{info.st_size:,} bytes is more than a broker download "
                    f"({MAX_FILE_BYTES:,} at most); is this the right file?",
                    path.name,
                )
            ]
        )


def read_text(path: Path) -> str:
    """The file's text, refusing what no broker download is (huge, binary, a device)."""
    check_file(path)
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise InputError([Problem("not a text file (a spreadsheet? save it as CSV)", path.name)])
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line of the file, for messages
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(c.strip() for c in self.cells)


def csv_lines(text: str, file: str | None = None) -> list[Line]:
    reader = csv.reader(io.StringIO(text))
    out: list[Line] = []
    start = 1
    try:
        for cells in reader:
            out.append(Line(start, [c.strip() for c in cells]))
            start = reader.line_num + 1
            if len(out) > MAX_ROWS:
                raise InputError([Problem(f"more than {MAX_ROWS:,} lines", file)])
    except csv.Error as exc:
        # A cell past the csv module's field limit (128 KiB): no broker writes one, so
        # the file is damaged or not a download (an unclosed quote swallows the rest).
        raise InputError(
            [
                Problem(
                    f"line {start}: not readable as CSV ({exc}); a cell that long is no "
                    "broker's: check for an unclosed quote or download the file again",
                    file,
                )
            ]
        ) from None
    return out


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9$%]", "", text.lower())


def header_keys(header: str) -> set[str]:
    """`Qty (Quantity)` answers to qtyquantity, qty and quantity."""
    keys = {norm(header)}
    match = re.match(r"^(.*?)\((.*)\)\s*$", header)
    if match:
        keys |= {norm(match.group(1)), norm(match.group(2))}
    return {k for k in keys if k}


def match_header(cells: Sequence[str], fields: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each field's column index. A field's names are listed most specific first, and the
    most specific one present wins wherever it stands: Fidelity's history header reads
    `Run Date,Account,Account Number,...`, and the account is the number, not the name
    (the name answers to `Account` too). A cell that is the name in full beats one that
    only answers to it by a part in parentheses."""
    found: dict[str, int] = {}
    whole = [{norm(c)} - {""} for c in cells]
    keys = [header_keys(c) for c in cells]
    for name, aliases in fields.items():
        for alias in (norm(a) for a in aliases):
            hit = next((i for i, k in enumerate(whole) if alias in k), None)
            if hit is None:
                hit = next((i for i, k in enumerate(keys) if alias in k), None)
            if hit is not None:
                found[name] = hit
                break
    return found


def find_header(
    lines: Sequence[Line],
    fields: Mapping[str, Sequence[str]],
    required: Sequence[str],
    start: int = 0,
) -> tuple[int, dict[str, int]] | None:
    """The first line at or after `start` with every required column."""
    for index in range(start, len(lines)):
        columns = match_header(lines[index].cells, fields)
        if all(r in columns for r in required):
            return index, columns
    return None


@dataclass(frozen=True)
class Record:
    """A data line with its cells by field name."""

    line: Line
    values: dict[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()


def records(lines: Sequence[Line], header: int, columns: Mapping[str, int]) -> Iterator[Record]:
    """Data lines after the header, up to the first blank line (a footer or the next block)."""
    for line in lines[header + 1 :]:
        if line.blank:
            return
        values = {
            name: line.cells[index] if index < len(line.cells) else ""
            for name, index in columns.items()
        }
        yield Record(line, values)


def number(text: str) -> float | None:
    """`$1,234.56` → 1234.56, `(12.50)` and `-$12.50` → -12.5, `12%` → 12.0, `--` → None."""
    value = text.strip()
    if value.lower() in MISSING:
        return None
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()").replace("$", "").replace(",", "").replace("%", "").strip()
    value = value.rstrip("*").strip()
    if value.startswith("+"):
        value = value[1:]
    try:
        result = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"expected a number, got {text!r}")
    return -result if negative else result


DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%y", "%b-%d-%Y", "%Y%m%d", "%d-%b-%Y")


def date(text: str) -> dt.date | None:
    """`01/15/2024`, `2024-01-15`, `Jan-15-2024`, `20240115`, and Schwab's `01/15/2024 as
    of 01/12/2024` (the trade's own date is the one after `as of`)."""
    value = text.strip()
    if value.lower() in MISSING:
        return None
    if " as of " in value:
        value = value.split(" as of ", 1)[1]
    value = value.split(";")[0].split(",")[0].split(" ")[0].strip()
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"expected a date, got {text!r}")


class Collector:
    """Problems found in one file, each naming the file and its line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def where(self, line: int) -> str:
        return f"line {line}"

    def add(self, line: int | None, message: str, level: str = "error") -> None:
        text = f"line {line}: {message}" if line else message
        self.problems.append(Problem(text, self.file, None, level))  # type: ignore[arg-type]

    def number(self, record: Record, name: str, *, required: bool = False) -> float | None:
        return self._parse(record, name, number, required)

    def date(self, record: Record, name: str, *, required: bool = False) -> dt.date | None:
        return self._parse(record, name, date, required)

    def _parse(self, record: Record, name: str, parse: Any, required: bool) -> Any:
        """The field read by `parse`; a bad or (when required) blank cell is a problem at
        its line, and None."""
        try:
            value = parse(record.get(name))
        except ValueError as exc:
            self.add(record.line.number, f"{name}: {exc}")
            return None
        if value is None and required:
            self.add(record.line.number, f"{name} is blank")
        return value


CUSIP = re.compile(r"^[0-9]{3}[0-9A-Z]{5}[0-9]$")


def is_cusip(symbol: str) -> bool:
    return bool(CUSIP.match(symbol)) and any(c.isdigit() for c in symbol[3:8])


ACCOUNT_ID = re.compile(r"(\.\.\.\s?\d{3,}|\bX{0,3}[A-Z]?\d{4,}(?:-\d+)?\b)")


def account_in_title(title: str) -> tuple[str, str] | None:
    """`Positions for account Roth IRA ...1234 as of 09:31 AM ET, 2024/01/15` →
    ("...1234", "Roth IRA")."""
    match = ACCOUNT_ID.search(title)
    if not match:
        return None
    name = title[: match.start()]
    name = re.sub(r"(?i)^.*?\bfor\b(\s+account\b)?", "", name).strip(' :-"')
    return match.group(1).replace(" ", ""), name


def closed_lot(
    found: Collector, record: Record, account: str | None, symbol: str, *, sold: str, acquired: str
) -> BrokerTransaction | None:
    """A realized gain/loss row: a sale of one lot, with what Form 8949 needs. The gain is
    the broker's (its short- plus long-term columns, which carry its wash-sale
    adjustments), else proceeds − basis + any disallowed loss."""
    sold_on = found.date(record, sold, required=True)
    shares = found.number(record, "shares", required=True)
    proceeds = found.number(record, "proceeds", required=True)
    basis = found.number(record, "cost_basis", required=True)
    if sold_on is None or shares is None or proceeds is None or basis is None or not shares:
        return None
    long_term = found.number(record, "lt") or 0.0
    short_term = found.number(record, "st") or 0.0
    disallowed = found.number(record, "disallowed") or 0.0
    gain = long_term + short_term if (long_term or short_term) else proceeds - basis + disallowed
    return BrokerTransaction(
        account=account or "",
        where=found.where(record.line.number),
        date=sold_on,
        action="SELL",
        symbol=symbol,
        shares=abs(shares),
        amount=proceeds,
        price=proceeds / abs(shares),
        acquired=found.date(record, acquired),
        cost_basis=basis,
        realized_gain=gain,
        term="LT" if long_term and not short_term else "ST",
        closed_lot=True,
    )


def trade(
    found: Collector, record: Record, account: str, symbol: str, action: str
) -> BrokerTransaction | None:
    """A history row that moved shares (fields date, shares, price, amount)."""
    when = found.date(record, "date", required=True)
    shares = found.number(record, "shares", required=True)
    if when is None or shares is None:
        return None
    amount = found.number(record, "amount")
    return BrokerTransaction(
        account=account,
        where=found.where(record.line.number),
        date=when,
        action=action,  # type: ignore[arg-type]
        symbol=symbol,
        shares=abs(shares),
        price=found.number(record, "price"),
        amount=abs(amount) if amount is not None else None,
    )


def header_or_problem(
    lines: Sequence[Line],
    fields: Mapping[str, Sequence[str]],
    required: Sequence[str],
    found: Collector,
    what: str,
) -> tuple[int, dict[str, int]] | None:
    """The table's header, or a problem saying which columns were looked for."""
    hit = find_header(lines, fields, required)
    if hit is None:
        found.add(None, f"no {what} header ({', '.join(fields[r][0] for r in required)})")
    return hit
