"""Every formula of a workbook computed headless, our worksheet functions included.

Why this shape: the `formulas` package (vinci1it2000/formulas) parses Excel formulas and
implements some 600 of Excel's functions (SUMPRODUCT, INDEX/MATCH, XLOOKUP, FILTER ...)
with Excel's own rules for blanks, text and errors, and it takes new functions by name,
which is how ours are registered. Its whole-workbook model (`ExcelModel`) is not used:
it neither spills dynamic arrays nor reads table references, and it marks a circular
reference with a value instead of naming it. So the workbook graph is kept here: each
formula, its structured references and names first rewritten to A1 ranges
(formulas/references.py), is parsed by `formulas`; strongly connected components (scipy) find
the circular references; the rest is computed in topological order (graphlib), each
array formula's result spilled into its block. A block whose size changed is walked
again with the new size, so cells that read a grown spill see all of it.

Cells that cannot be computed (an unknown or unimplemented function, a circular
reference, a name the workbook lacks, or a cell that reads one of those) are returned
as `Uncomputed`, never given a guessed value.

Beside this walk: formulas/values.py (values between openpyxl, `formulas` and Excel),
formulas/patterns.py (a filled-down formula compiled once) and formulas/results.py (the
values spilled, cached and logged back into the workbook).
"""

from __future__ import annotations

import graphlib
import logging
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
    range_boundaries,
)

from .patterns import _Pattern, _quoted, _relative
from .references import ReferenceError_, TableInfo, area, expand
from .values import (
    CellError,
    _cell_value,
    _failure,
    _grid,
    _legacy_cell,
    _plain,
    _range,
    _row_col,
    _scalar,
    _to_array,
)

# Functions whose reference is text or arithmetic worked out when they run: the cells
# they read are unknown before, so the dependency order cannot include them; rather than
# risk reading a cell not yet computed, they are listed, not guessed.
RUNTIME_REFERENCES = frozenset({"INDIRECT", "OFFSET"})
MAX_PASSES = 4  # spill sizes settle in two passes unless blocks feed each other's size


@dataclass(frozen=True)
class Uncomputed:
    sheet: str
    cell: str
    formula: str
    reason: str


@dataclass
class Block:
    """An array formula's result: the range it fills and its values, row by row."""

    ref: str
    values: list[list[Any]]
    dynamic: bool


@dataclass
class Recalculated:
    """Computed values of formula cells, keyed by (sheet title, cell), and the blocks
    array formulas fill, keyed by their anchor cell."""

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    blocks: dict[tuple[str, str], Block] = field(default_factory=dict)
    uncomputed: list[Uncomputed] = field(default_factory=list)
    spill_blocked: list[Uncomputed] = field(default_factory=list)
    formulas: int = 0
    passes: int = 0


Key = tuple[str, int, int]  # (upper-case sheet title, row, column)


@dataclass
class _Node:
    key: Key
    sheet: str
    text: str  # the formula as stored, with its leading "="
    array: tuple[int, int, int, int] | None = None  # (min_col, min_row, max_col, max_row)
    dynamic: bool = False
    func: Any = None
    inputs: list[tuple[str, tuple[str, int, int, int, int] | None]] = field(default_factory=list)
    problem: str | None = None
    fixed: str | None = None  # a problem no pass can clear (a what-if data table)
    blocked_by: str | None = None  # the cell in the way of this dynamic array's spill

    @property
    def cell(self) -> str:
        return f"{get_column_letter(self.key[2])}{self.key[1]}"


def recalculate(
    wb: Any,
    *,
    dynamic: Mapping[str, Iterable[str]] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    tables: Mapping[str, TableInfo] | None = None,
) -> Recalculated:
    """Compute every formula cell of an openpyxl workbook (opened with formulas, not
    cached values).

    dynamic: per sheet title, the anchor cells of dynamic-array formulas (they spill to
        their result's size; legacy array formulas keep their range).
    functions: extra worksheet functions by name, called with formulas' arguments.
    tables: the workbook's tables by upper-case name (default: read from `wb`).
    """
    import formulas

    logging.getLogger("formulas").setLevel(logging.CRITICAL)
    logging.getLogger("schedula").setLevel(logging.CRITICAL)
    from formulas.functions import not_implemented

    registry = formulas.get_functions()
    for name, func in (functions or {}).items():
        registry[name.upper()] = func
    # formulas' registry is a defaultdict that gains a placeholder for every unknown name
    # it is asked for, so what it implements is read off once, before any parsing.
    known = frozenset(k for k, v in registry.items() if v is not not_implemented)
    book = _Workbook(wb, dynamic or {}, tables if tables is not None else workbook_tables(wb))
    return book.run(known)


def workbook_tables(wb: Any) -> dict[str, TableInfo]:
    out = {}
    for ws in wb.worksheets:
        for table in ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            columns = tuple(str(c.name) for c in table.tableColumns) or tuple(
                str(ws.cell(min_row, c).value or "") for c in range(min_col, max_col + 1)
            )
            out[table.displayName.upper()] = TableInfo(
                table.displayName,
                ws.title,
                min_col,
                min_row,
                max_col,
                max_row,
                columns,
                header_rows=0 if table.headerRowCount == 0 else 1,
                totals_rows=int(table.totalsRowCount or 0),
            )
    return out


def _defined_names(wb: Any) -> dict[str, str]:
    out = {}
    for name, defined in wb.defined_names.items():
        text = (defined.attr_text or "").strip()
        if text and "#REF!" not in text and not name.startswith("_xlnm."):
            out[name.upper()] = text.lstrip("=")
    return out


_DIGIT_RUN = re.compile(r"\d+")
_DIGIT_E = re.compile(r"\d[Ee]")


class _Workbook:
    def __init__(
        self, wb: Any, dynamic: Mapping[str, Iterable[str]], tables: Mapping[str, TableInfo]
    ):
        self.wb = wb
        self.sheets = {ws.title.upper(): ws for ws in wb.worksheets}
        self.titles = {ws.title.upper(): ws.title for ws in wb.worksheets}
        self.tables = tables
        self.names = _defined_names(wb)
        self._shapes: dict[str, list[tuple[str, str, str]]] = {}
        wanted = {
            s.upper(): {c.replace("$", "").upper() for c in cells} for s, cells in dynamic.items()
        }
        self.nodes: dict[Key, _Node] = {}
        for upper, ws in self.sheets.items():
            for (row, col), cell in ws._cells.items():
                value = cell.value
                node = _node_for(value, (upper, row, col), ws.title, wanted.get(upper, set()))
                if node is not None:
                    self.nodes[node.key] = node
        # The area each array formula fills now (from the file; updated as they compute).
        self.extent: dict[Key, tuple[int, int, int, int]] = {
            k: n.array for k, n in self.nodes.items() if n.array is not None
        }
        # Cells a dynamic array filled when the file was saved hold its old values; they
        # are the array's own (never in its way) and read as blank once it shrinks.
        self.stale = {k: e for k, e in self.extent.items() if self.nodes[k].dynamic}
        self.results: dict[Key, Any] = {}
        self.blocks: dict[Key, list[list[Any]]] = {}
        self.size: dict[str, tuple[int, int]] = {}

    # -- the walk ---------------------------------------------------------------------

    def run(self, known: frozenset[str]) -> Recalculated:
        import formulas

        parser = formulas.Parser()
        compiled: dict[tuple[str, str], tuple[Any, str | None]] = {}
        patterns: dict[tuple[str, str], _Pattern | None] = {}
        out = Recalculated(formulas=len(self.nodes))
        for passes in range(1, MAX_PASSES + 1):
            out.passes = passes
            for node in self.nodes.values():
                self._parse(node, parser, known, compiled, patterns)
            before = dict(self.extent)
            self._compute_all()
            if self.extent == before:
                break
        for key, node in self.nodes.items():
            title = node.sheet
            if node.problem is not None:
                out.uncomputed.append(Uncomputed(title, node.cell, node.text, node.problem))
                continue
            out.values[(title, node.cell)] = self.results[key]
            if node.array is not None:
                min_col, min_row, max_col, max_row = self.extent[key]
                ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
                out.blocks[(title, node.cell)] = Block(ref, self.blocks[key], node.dynamic)
            if node.blocked_by is not None:
                reason = f"#SPILL!: {node.blocked_by} is in the way of its result"
                out.spill_blocked.append(Uncomputed(title, node.cell, node.text, reason))
        out.uncomputed.sort(key=lambda u: (u.sheet, _row_col(u.cell)))
        return out

    def _parse(
        self,
        node: _Node,
        parser: Any,
        known: frozenset[str],
        compiled: dict[tuple[str, str], tuple[Any, str | None]],
        patterns: dict[tuple[str, str], _Pattern | None],
    ) -> None:
        node.problem, node.func, node.inputs = node.fixed, None, []
        if node.fixed is not None:
            return
        _, row, col = node.key
        try:
            text = expand(
                node.text,
                sheet=node.sheet,
                row=row,
                col=col,
                tables=self.tables,
                names=self.names,
                spill=self._spill_ref,
            )
        except ReferenceError_ as exc:
            node.problem = str(exc)
            return
        pattern = self._pattern(node.sheet, text, row, col)
        if pattern is not None:
            group = patterns.get(pattern[0])
            if group is not None and self._bind(node, group, pattern[2]):
                return
        cache_key = (node.sheet, text)
        if cache_key not in compiled:
            compiled[cache_key] = _compile(parser, text, node.sheet, known)
        func, problem = compiled[cache_key]
        if problem is not None:
            node.problem = problem
            return
        node.func = func
        for name in func.inputs:
            bounds = self._bounds(str(name))
            if bounds is None:
                node.problem = f"unknown name or reference {name}"
                return
            node.inputs.append((str(name), bounds))
        if pattern is not None and patterns.get(pattern[0]) is None:
            patterns[pattern[0]] = _Pattern.of(func, node.inputs, *pattern[1:])

    def _pattern(
        self, sheet: str, text: str, row: int, col: int
    ) -> tuple[tuple[str, str], list[str], list[tuple[str, int, int, int, int] | None]] | None:
        """The formula in relative (R1C1) form, which cells filled down or across share,
        and the area each of its references reads from this cell.

        Why: `formulas` parses and compiles each formula text on its own (about 1.5 ms),
        which made a column of thousands of filled-down formulas slower than LibreOffice.
        Cells equal in R1C1 form share one compiled function, called with their own areas.
        """
        items = self._tokens(text)
        if items is None:
            return None
        parts: list[str] = []
        areas: list[tuple[str, int, int, int, int] | None] = []
        for kind, subtype, value in items:
            if kind == "OPERAND" and subtype == "RANGE":
                relative = _relative(value, row, col)
                if relative is not None:
                    name = value if "!" in value else f"{_quoted(sheet)}!{value}"
                    bounds = self._bounds(name)
                    if bounds is not None:
                        parts.append(relative)
                        areas.append(bounds)
                        continue
            parts.append(f"{kind[0]}{value}")
            areas.append(None)
        return (sheet.upper(), "\x1f".join(parts)), parts, areas

    def _tokens(self, text: str) -> list[tuple[str, str, str]] | None:
        """The formula's tokens (type, subtype, text), or None when it does not tokenize.

        Cells filled down differ only in their numbers, and tokenizing each one again was
        a sixth of a filled-down grid's recalculation: a formula whose text equals one
        already tokenized once its digit runs are blanked out takes that one's tokens
        with its own digits put back in order. Only where the tokens of the first spell
        out its whole text, digit runs unsplit (checked), and where no digit is followed
        by an E, the one place the tokenizer looks at a digit's value (1E+5)."""
        from openpyxl.formula.tokenizer import Tokenizer, TokenizerError

        shape = _DIGIT_RUN.sub("0", text)
        known = self._shapes.get(shape)
        if known is not None:
            runs = iter(_DIGIT_RUN.findall(text))
            return [
                (kind, subtype, _DIGIT_RUN.sub(lambda _: next(runs), value))
                for kind, subtype, value in known
            ]
        try:
            items = [(t.type, t.subtype, t.value) for t in Tokenizer(text).items]
        except TokenizerError:
            return None
        body = text[1:] if text.startswith("=") else text
        whole = "".join(value for _, _, value in items) == body
        unsplit = sum(len(_DIGIT_RUN.findall(v)) for _, _, v in items) == len(
            _DIGIT_RUN.findall(body)
        )
        if whole and unsplit and not _DIGIT_E.search(text):
            self._shapes[shape] = items
        return items

    def _bind(
        self,
        node: _Node,
        group: _Pattern,
        areas: list[tuple[str, int, int, int, int] | None],
    ) -> bool:
        """Give `node` its pattern's compiled function, each input read from the area the
        node's own reference names; False when the pattern cannot stand in for its text."""
        inputs = []
        for name, tokens in group.inputs:
            found = {areas[t] for t in tokens}
            if len(found) != 1 or None in found:
                return False
            inputs.append((name, found.pop()))
        node.func, node.inputs = group.func, inputs
        return True

    def _compute_all(self) -> None:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        index = self._position_index()
        keys = list(self.nodes)
        order = {k: i for i, k in enumerate(keys)}
        deps: dict[Key, set[Key]] = {}
        for key in keys:
            node = self.nodes[key]
            found: set[Key] = set()
            for _, bounds in node.inputs:
                if bounds is not None:
                    found |= self._formulas_in(index, bounds)
            deps[key] = found
        rows = [order[k] for k in keys for d in deps[k]]
        cols = [order[d] for k in keys for d in deps[k]]
        circular: set[Key] = set()
        if rows:
            graph = coo_matrix(([1] * len(rows), (rows, cols)), shape=(len(keys), len(keys)))
            _, labels = connected_components(graph, directed=True, connection="strong")
            sizes: dict[int, int] = defaultdict(int)
            for label in labels:
                sizes[label] += 1
            circular = {k for k in keys if sizes[labels[order[k]]] > 1 or k in deps[k]}
        for key in circular:
            if self.nodes[key].problem is None:
                self.nodes[key].problem = "circular reference"
        sorter = graphlib.TopologicalSorter(
            {k: deps[k] - circular for k in keys if k not in circular}
        )
        self.results.clear()
        self.blocks.clear()
        for key in sorter.static_order():
            node = self.nodes[key]
            if node.problem is not None:
                continue
            blocked = next((d for d in sorted(deps[key]) if self.nodes[d].problem), None)
            if blocked is not None:
                node.problem = (
                    f"reads {self.titles[blocked[0]]}!{self.nodes[blocked].cell}, "
                    "which was not computed"
                )
                continue
            self._compute(node)

    def _compute(self, node: _Node) -> None:
        from formulas.ranges import Ranges

        args = []
        for _, (sheet, min_col, min_row, max_col, max_row) in node.inputs:
            values = self._read(sheet, min_col, min_row, max_col, max_row)
            # A whole column comes clipped to the used rows; the Ranges carry that area.
            last_row = min_row + len(values) - 1
            args.append(
                Ranges().set_value(
                    _range(self.titles[sheet], min_col, min_row, max_col, last_row),
                    _to_array(values),
                )
            )
        try:
            result = node.func(*args)
        except Exception as exc:  # the formula engine's own failures, cell by cell
            node.problem = _failure(exc)
            return
        grid = _grid(result)
        key = node.key
        if node.array is None:
            self.results[key] = _scalar(grid[0][0] if grid and grid[0] else None)
            return
        self._spill(node, grid)

    def _spill(self, node: _Node, grid: list[list[Any]]) -> None:
        key = node.key
        _, row, col = key
        height, width = len(grid), max((len(r) for r in grid), default=1)
        if node.dynamic:
            bounds = (col, row, col + width - 1, row + height - 1)
            blocker = self._spill_blocker(key, bounds)
            node.blocked_by = blocker
            if blocker is not None:  # Excel shows #SPILL! and fills nothing
                self.results[key] = CellError("#SPILL!")
                self.blocks[key] = [[CellError("#SPILL!")]]
                self.extent[key] = (col, row, col, row)
                return
            self.extent[key] = bounds
        else:
            min_col, min_row, max_col, max_row = node.array or (col, row, col, row)
            bounds = (min_col, min_row, max_col, max_row)
            height_, width_ = max_row - min_row + 1, max_col - min_col + 1
            grid = [
                [_legacy_cell(grid, r, c, height, width) for c in range(width_)]
                for r in range(height_)
            ]
        values = [[_plain(v) for v in r] + [None] * (width - len(r)) for r in grid]
        self.blocks[key] = values
        self.results[key] = _scalar(values[0][0])

    def _spill_blocker(self, key: Key, bounds: tuple[int, int, int, int]) -> str | None:
        """A cell that is in the way of a dynamic array's spill, if any (Excel: #SPILL!)."""
        sheet = key[0]
        ws = self.sheets[sheet]
        own = [e for e in (self.extent.get(key), self.stale.get(key)) if e]
        min_col, min_row, max_col, max_row = bounds
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                if (r, c) == key[1:]:
                    continue
                if any(e[0] <= c <= e[2] and e[1] <= r <= e[3] for e in own):
                    continue
                if (sheet, r, c) in self.nodes:
                    return f"{get_column_letter(c)}{r}"
                cell = ws._cells.get((r, c))
                if cell is not None and cell.value not in (None, ""):
                    return f"{get_column_letter(c)}{r}"
                for other, ext in self.extent.items():
                    if (
                        other != key
                        and other[0] == sheet
                        and ext[0] <= c <= ext[2]
                        and ext[1] <= r <= ext[3]
                    ):
                        return f"{get_column_letter(c)}{r}"
        return None

    # -- cells and ranges -------------------------------------------------------------

    def _position_index(self) -> dict[str, dict[int, list[tuple[int, Key]]]]:
        """Per sheet and column, the sorted rows that hold a computed value, and the
        formula that computes each (a block's cells belong to its anchor)."""
        index: dict[str, dict[int, list[tuple[int, Key]]]] = defaultdict(lambda: defaultdict(list))
        for key in self.nodes:
            sheet, row, col = key
            index[sheet][col].append((row, key))
            extent = self.extent.get(key)
            if extent:
                for c in range(extent[0], extent[2] + 1):
                    for r in range(extent[1], extent[3] + 1):
                        if (r, c) != (row, col):
                            index[sheet][c].append((r, key))
        for columns in index.values():
            for rows in columns.values():
                rows.sort()
        return index

    def _formulas_in(self, index: Mapping, bounds: tuple[str, int, int, int, int]) -> set[Key]:
        sheet, min_col, min_row, max_col, max_row = bounds
        columns = index.get(sheet)
        if not columns:
            return set()
        found: set[Key] = set()
        for col in columns:
            if min_col <= col <= max_col:
                rows = columns[col]
                lo = bisect_left(rows, (min_row,))
                hi = bisect_right(rows, (max_row, ("\uffff", 1 << 30, 1 << 30)))
                found.update(k for _, k in rows[lo:hi])
        return found

    def _bounds(self, name: str) -> tuple[str, int, int, int, int] | None:
        """('SHEET', min_col, min_row, max_col, max_row) of a parsed reference, whole
        columns and rows clipped to what the sheet uses."""
        if "!" not in name:
            return None
        sheet, _, ref = name.rpartition("!")
        sheet = sheet[1:-1].replace("''", "'") if sheet.startswith("'") else sheet
        sheet = sheet.upper()
        if sheet not in self.sheets or "[" in sheet:
            return None
        ref = ref.replace("$", "")
        try:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
        except ValueError:
            return None
        last_row, last_col = self._used(sheet)
        min_col, min_row = min_col or 1, min_row or 1
        max_col = max_col or max(min_col, last_col)  # a whole row (1:1)
        max_row = max_row or max(min_row, last_row)  # a whole column (B:B)
        return (sheet, min_col, min_row, max_col, max_row)

    def _used(self, sheet: str) -> tuple[int, int]:
        # openpyxl works out max_row and max_column by scanning every cell: once a sheet.
        if sheet not in self.size:
            ws = self.sheets[sheet]
            self.size[sheet] = (ws.max_row, ws.max_column)
        rows, cols = self.size[sheet]
        for (s, _, _), ext in self.extent.items():
            if s == sheet:
                cols, rows = max(cols, ext[2]), max(rows, ext[3])
        return rows, cols

    def _read(
        self, sheet: str, min_col: int, min_row: int, max_col: int, max_row: int
    ) -> list[list[Any]]:
        ws = self.sheets[sheet]
        spilled: dict[tuple[int, int], Any] = {}
        for key, ext in self.extent.items():
            if key[0] != sheet or key not in self.blocks:
                continue
            if ext[0] > max_col or ext[2] < min_col or ext[1] > max_row or ext[3] < min_row:
                continue
            block = self.blocks[key]
            for r, line in enumerate(block):
                for c, value in enumerate(line):
                    spilled[(ext[1] + r, ext[0] + c)] = value
        out = []
        for r in range(min_row, max_row + 1):
            line = []
            for c in range(min_col, max_col + 1):
                key = (sheet, r, c)
                if key in self.results:
                    line.append(self.results[key])
                elif (r, c) in spilled:
                    line.append(spilled[(r, c)])
                elif self._is_stale(sheet, r, c):
                    line.append(_cell_value(None))
                else:
                    cell = ws._cells.get((r, c))
                    line.append(_cell_value(cell))
            out.append(line)
        return out

    def _is_stale(self, sheet: str, row: int, col: int) -> bool:
        return any(
            k[0] == sheet
            and (k[1], k[2]) != (row, col)
            and e[0] <= col <= e[2]
            and e[1] <= row <= e[3]
            for k, e in self.stale.items()
        )

    def _spill_ref(self, sheet: str, cell: str) -> str | None:
        upper = sheet.upper()
        column, row = coordinate_from_string(cell)
        key = (upper, row, column_index_from_string(column))
        extent = self.extent.get(key)
        if extent is None or upper not in self.titles:
            return None
        return area(self.titles[upper], *extent)


def _node_for(value: Any, key: Key, title: str, dynamic: set[str]) -> _Node | None:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    cell = f"{get_column_letter(key[2])}{key[1]}"
    if isinstance(value, ArrayFormula):
        bounds = range_boundaries(str(value.ref).replace("$", ""))
        return _Node(key, title, str(value.text), array=bounds, dynamic=cell in dynamic)
    if isinstance(value, DataTableFormula):
        return _Node(key, title, "{=TABLE()}", fixed="a what-if data table is not computed")
    if isinstance(value, str) and value.startswith("=") and len(value) > 1:
        return _Node(key, title, value)
    return None


def _compile(parser: Any, text: str, sheet: str, known: frozenset[str]) -> tuple[Any, str | None]:
    from formulas.tokens.function import Function

    try:
        tokens, builder = parser.ast(text, context={"sheet": sheet.upper()})
    except Exception as exc:
        if re.search(r"[A-Za-z_][\w.]*\[", text):
            return None, "a table reference names no table of this workbook"
        return None, f"the formula cannot be read ({type(exc).__name__})"
    for token in tokens:
        if isinstance(token, Function):
            name = token.name.upper()
            if name not in known:
                return None, f"unsupported function {token.name}"
            if name in RUNTIME_REFERENCES:
                return None, f"{token.name} builds its reference when it runs (not followed)"
    try:
        pipe = builder.compile()
    except Exception as exc:
        return None, f"the formula cannot be compiled ({type(exc).__name__}: {exc})"
    return _Direct.of(pipe) or pipe, None


class _Direct:
    """A compiled formula's steps called one after another, without schedula's dispatch.

    Why: `formulas` compiles a formula into a schedula DispatchPipe, whose call sets up a
    fresh solution and workflow each time (about 0.35 ms, more than most functions
    take); a column of thousands of cells sharing one pattern paid it per cell. The
    pipe's order is already fixed, so its functions are called here in that order with
    the same arguments (constant nodes' values, blanks dropped as schedula drops them)
    and the result node's filters applied. A pipe with anything more (sub-dispatchers,
    domains, callbacks, several outputs) is called as compiled (`of` gives None).
    """

    # `solve_cycle` is read only by formulas' own cell model, for circular references,
    # which this module finds and refuses itself; `extra_inputs` names inputs already in
    # the node's list (INDEX's), whose values are constants of the pipe.
    _PLAIN_FUNCTION = frozenset(
        {
            "type",
            "inputs",
            "outputs",
            "function",
            "index",
            "wait_inputs",
            "solve_cycle",
            "extra_inputs",
        }
    )
    _PLAIN_DATA = frozenset({"type", "index", "filters", "wait_inputs"})

    def __init__(
        self,
        inputs: Any,
        steps: list[tuple[Callable[..., Any], tuple[str, ...], str]],
        constants: dict[str, Any],
        output: str,
        filters: tuple[Callable[[Any], Any], ...],
    ) -> None:
        self.inputs = inputs
        self.steps = steps
        self.constants = constants
        self.output = output
        self.filters = filters

    @classmethod
    def of(cls, pipe: Any) -> _Direct | None:
        from schedula import NONE

        if len(pipe.outputs) != 1 or getattr(pipe, "var_keyword", None):
            return None
        output = pipe.outputs[0]
        constants = {k: v["value"] for k, v in pipe.dsp.default_values.items()}
        steps: list[tuple[Callable[..., Any], tuple[str, ...], str]] = []
        filters: tuple[Callable[[Any], Any], ...] = ()
        known = set(pipe.inputs) | set(constants)
        for task, _, sub in pipe.pipe:
            node_id, solution = task[-1]
            node = solution.nodes[node_id]
            if sub or solution.dsp is not pipe.dsp:
                return None
            if node["type"] == "function":
                if set(node) - cls._PLAIN_FUNCTION or len(node["outputs"]) != 1:
                    return None
                if not all(i in known for i in node["inputs"]):
                    return None
                steps.append((node["function"], tuple(node["inputs"]), node["outputs"][0]))
                known.add(node["outputs"][0])
            elif node["type"] == "data":
                if set(node) - cls._PLAIN_DATA:
                    return None
                if node.get("filters"):
                    if node_id != output:
                        return None
                    filters = tuple(node["filters"])
            else:
                return None
        if output not in known or any(v is NONE for v in constants.values()):
            return None
        return cls(pipe.inputs, steps, constants, output, filters)

    def __call__(self, *args: Any) -> Any:
        from schedula import NONE

        values = dict(self.constants)
        values.update(zip(self.inputs, args, strict=True))
        for function, inputs, output in self.steps:
            values[output] = function(*[values[i] for i in inputs if values[i] is not NONE])
        value = values[self.output]
        for keep in self.filters:
            value = keep(value)
        return value
