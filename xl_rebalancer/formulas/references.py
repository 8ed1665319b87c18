"""Formula text rewritten into plain A1 references before the formula engine parses it.

The `formulas` parser reads A1 references, ranges and functions, but not the names Excel
lets a formula use instead: table (structured) references such as
`Trades[[#This Row],[Value]]`, defined names, and the spill operator (`A1#`, stored in
files as `_xlfn.ANCHORARRAY(A1)`). Each is replaced here by the range it stands for, so
the dependency walk in `recalc` sees every cell a formula reads. A reference that names
something the workbook lacks is left alone; the parser then reports it as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from openpyxl.utils.cell import get_column_letter

_IDENT = re.compile(r"[A-Za-z_\\][A-Za-z0-9_.\\]*")
_CELL = re.compile(r"^\$?[A-Za-z]{1,3}\$?\d+$")
_SPILL = re.compile(r"((?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?(\$?[A-Za-z]{1,3}\$?\d+)#")
_ANCHORARRAY = re.compile(
    r"_xlfn\.ANCHORARRAY\(\s*((?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?(\$?[A-Za-z]{1,3}\$?\d+)\s*\)",
    re.IGNORECASE,
)
_SPECIALS = {"#all", "#data", "#headers", "#totals", "#this row"}


class ReferenceError_(ValueError):
    """A structured reference that cannot be resolved (unknown column, #This Row outside
    the table's rows); the cell is reported, not guessed."""


@dataclass(frozen=True)
class TableInfo:
    """An Excel table (ListObject) as the formulas that name it see it."""

    name: str
    sheet: str
    min_col: int
    min_row: int
    max_col: int
    max_row: int
    columns: tuple[str, ...]
    header_rows: int = 1
    totals_rows: int = 0

    def column(self, name: str) -> int:
        wanted = _unescape(name).strip().lower()
        for i, column in enumerate(self.columns):
            if column.strip().lower() == wanted:
                return self.min_col + i
        raise ReferenceError_(f"table {self.name} has no column [{name}]")


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def area(sheet: str, min_col: int, min_row: int, max_col: int, max_row: int) -> str:
    first = f"${get_column_letter(min_col)}${min_row}"
    last = f"${get_column_letter(max_col)}${max_row}"
    return f"{quote_sheet(sheet)}!{first}" + ("" if first == last else f":{last}")


def _unescape(name: str) -> str:
    # Excel escapes [ ] # ' inside a column name with a leading apostrophe.
    return re.sub(r"'(.)", r"\1", name)


def _segments(text: str) -> list[tuple[str, str]]:
    """The formula split into ('code', ...) and ('text', ...) pieces, so names inside
    string literals and quoted sheet names are never touched."""
    out: list[tuple[str, str]] = []
    i, start, n = 0, 0, len(text)
    while i < n:
        quote = text[i]
        if quote in "\"'":
            if i > start:
                out.append(("code", text[start:i]))
            j = i + 1
            while j < n:
                if text[j] == quote:
                    if j + 1 < n and text[j + 1] == quote:
                        j += 2
                        continue
                    break
                j += 1
            out.append(("text", text[i : j + 1]))
            i = start = j + 1
            continue
        i += 1
    if start < n:
        out.append(("code", text[start:]))
    return out


def _bracket_end(code: str, start: int) -> int:
    """Index just past the `]` that closes the `[` at `start` (apostrophe escapes kept)."""
    depth, i = 0, start
    while i < len(code):
        ch = code[i]
        if ch == "'":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ReferenceError_(f"unclosed [ in {code[start:]!r}")


def _items(inner: str) -> list[str]:
    """`[#This Row],[Value]` → ['#This Row', ',', 'Value']; `Value` → ['Value']."""
    inner = inner.strip()
    if not inner.startswith("["):
        if inner.startswith("@"):
            rest = inner[1:].strip()
            rest = rest[1:-1] if rest.startswith("[") and rest.endswith("]") else rest
            return ["#This Row", ","] + ([rest] if rest else [])
        return [inner] if inner else []
    out, i = [], 0
    while i < len(inner):
        ch = inner[i]
        if ch == "[":
            end = _bracket_end(inner, i)
            out.append(inner[i + 1 : end - 1])
            i = end
        elif ch in ",:":
            out.append(ch)
            i += 1
        else:
            i += 1
    return out


def structured_area(table: TableInfo, inner: str, row: int) -> str:
    """The A1 range a structured reference's bracket part names, seen from `row`."""
    parts = _items(inner)
    specials = [p.strip().lower() for p in parts if p.strip().lower() in _SPECIALS]
    columns = [p for p in parts if p not in (",", ":") and p.strip().lower() not in _SPECIALS]
    data_first = table.min_row + table.header_rows
    data_last = table.max_row - table.totals_rows
    if "#this row" in specials:
        if not data_first <= row <= data_last:
            raise ReferenceError_(f"#This Row of {table.name} used outside its rows")
        first = last = row
    else:
        wanted = set(specials) or {"#data"}
        if "#all" in wanted:
            wanted = {"#headers", "#data", "#totals"}
        rows = []
        if "#headers" in wanted and table.header_rows:
            rows += [table.min_row]
        if "#data" in wanted:
            rows += [data_first, max(data_first, data_last)]
        if "#totals" in wanted and table.totals_rows:
            rows += [table.max_row]
        if not rows:
            raise ReferenceError_(f"table {table.name} has no {', '.join(sorted(wanted))} row")
        first, last = min(rows), max(rows)
    if columns:
        cols = [table.column(c) for c in columns]
        left, right = min(cols), max(cols)
    else:
        left, right = table.min_col, table.max_col
    return area(table.sheet, left, first, right, last)


def expand(
    formula: str,
    *,
    sheet: str,
    row: int,
    col: int,
    tables: Mapping[str, TableInfo],
    names: Mapping[str, str],
    spill: Callable[[str, str], str | None],
) -> str:
    """`formula` with structured references, defined names and spill references replaced
    by A1 ranges. `tables` and `names` are keyed by upper-case name; `spill(sheet, cell)`
    gives the range an array anchor fills now, or None."""
    out = []
    for kind, piece in _segments(formula):
        out.append(piece if kind == "text" else _expand_code(piece, sheet, row, col, tables, names))
    text = "".join(out)
    if "#" in text or "ANCHORARRAY" in text.upper():
        text = _expand_spills(text, sheet, spill)
    return text


def _expand_spills(text: str, sheet: str, spill: Callable[[str, str], str | None]) -> str:
    literals = [(m.start(), m.end()) for m in re.finditer(r'"(?:[^"]|"")*"', text)]

    def replace(match: re.Match[str]) -> str:
        if any(a <= match.start() < b for a, b in literals):
            return match.group(0)
        prefix = match.group(1)
        target = sheet
        if prefix:
            target = prefix[:-1]
            if target.startswith("'"):
                target = target[1:-1].replace("''", "'")
        found = spill(target, match.group(2).replace("$", "").upper())
        return found if found is not None else match.group(0)

    text = _ANCHORARRAY.sub(replace, text)
    literals = [(m.start(), m.end()) for m in re.finditer(r'"(?:[^"]|"")*"', text)]
    return _SPILL.sub(replace, text)


def _expand_code(
    code: str,
    sheet: str,
    row: int,
    col: int,
    tables: Mapping[str, TableInfo],
    names: Mapping[str, str],
) -> str:
    if not tables and not names and "[" not in code:
        return code  # nothing here to expand (a plain grid's formulas)
    out, i = [], 0
    while i < len(code):
        ch = code[i]
        if ch == "[" and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] in "_.]")):
            end = _bracket_end(code, i)
            if re.fullmatch(r"\[\d+\]", code[i:end]):
                raise ReferenceError_(
                    f"refers to another workbook ({code[i:end]}); links are not followed"
                )
            table = _table_at(tables, sheet, row, col)
            if table is None:
                raise ReferenceError_(f"{code[i:end]} is used outside a table")
            out.append(structured_area(table, code[i + 1 : end - 1], row))
            i = end
            continue
        match = _IDENT.match(code, i) if (ch.isalpha() or ch in "_\\") else None
        if match is None or (i > 0 and (code[i - 1].isalnum() or code[i - 1] in "_.$!")):
            out.append(ch)
            i += 1
            continue
        word, end = match.group(0), match.end()
        key = word.upper()
        follow = code[end : end + 1]
        if follow == "[" and key in tables:
            close = _bracket_end(code, end)
            out.append(structured_area(tables[key], code[end + 1 : close - 1], row))
            i = close
        elif follow not in ("(", "!", "[") and key in tables:
            out.append(structured_area(tables[key], "", row))
            i = end
        elif follow not in ("(", "!", "[") and key in names and not _CELL.match(word):
            value = names[key]
            out.append(value if _is_reference(value) else f"({value})")
            i = end
        else:
            out.append(word)
            i = end
    return "".join(out)


def _is_reference(text: str) -> bool:
    return bool(
        re.fullmatch(
            r"(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?",
            text,
        )
    )


def _table_at(tables: Mapping[str, TableInfo], sheet: str, row: int, col: int) -> TableInfo | None:
    for table in tables.values():
        if (
            table.sheet.lower() == sheet.lower()
            and table.min_row <= row <= table.max_row
            and table.min_col <= col <= table.max_col
        ):
            return table
    return None
