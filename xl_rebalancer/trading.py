"""The round trip with the broker, for every door: import, export-orders, record-fills.

Like app.py, these read and save only through a Door, so the command line and the
ribbon's buttons run the same code. Import and record-fills edit input sheets: each
keeps a backup beside the workbook and writes what it changed to the Log.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .door import Door, RunOptions, RunReport, as_door, journaled, save_backed_up
from .errors import InputError, Problem, WorkbookError
from .workbook import schema as s
from .workbook.edits import InputRewrite, WorkbookEdit
from .workbook.outputs import log_entries, log_sheet


@dataclass
class ImportReport(RunReport):
    """What import found and changed (engine.sync.SyncResult) and where it went."""

    sync: Any = None
    files: list[str] = field(default_factory=list)


def parse_account_map(text: str | Sequence[str] | None) -> dict[str, str]:
    """`--account "...1234=Joint Taxable" --account "X12345678=Roth"` (or one comma-separated
    string) → {broker account: workbook account}; `*=Name` for files without an account."""
    parts: list[str] = []
    for item in [text] if isinstance(text, str) else list(text or []):
        parts += [p for p in item.split(",") if p.strip()]
    out: dict[str, str] = {}
    for part in parts:
        broker, sep, name = part.partition("=")
        if not sep or not name.strip():
            raise InputError(
                [
                    Problem(
                        f"--account {part.strip()!r}: use BROKER_ACCOUNT=Workbook account "
                        "(for example ...1234=Joint Taxable, or *=Roth for a file that names none)"
                    )
                ]
            )
        out["" if broker.strip() == "*" else broker.strip()] = name.strip()
    return out


def _rows(raw: Mapping[str, Any], spec: s.SheetSpec) -> list[tuple[int, dict[str, Any]]]:
    data = raw.get(spec.name)
    if data is None:
        return []
    if isinstance(data, list):  # a missing required column: the reader's own problems
        raise InputError(data)
    return [(r, dict(v)) for r, v in data.rows]


TABLES = (s.ACCOUNTS, s.HOLDINGS, s.TAX_LOTS, s.TRANSACTIONS)


def _edit(
    raw: Mapping[str, Any],
    result: Any,
    sheets: Sequence[str],
    report: RunReport,
    started: dt.datetime,
    notes: list[str],
    options: RunOptions,
    extra: Sequence[InputRewrite] = (),
) -> WorkbookEdit:
    """The Log, and the tables `sheets` rewritten from `result` (a SyncResult or a
    FillResult: both carry accounts, holdings, lots and transactions records)."""
    records = {
        s.ACCOUNTS.name: result.accounts,
        s.HOLDINGS.name: result.holdings,
        s.TAX_LOTS.name: result.lots,
        s.TRANSACTIONS.name: result.transactions,
    }
    return WorkbookEdit(
        sheets=[log_sheet(log_entries(report.warnings, started, notes))],
        rewrites=[
            InputRewrite(spec, _title(raw, spec), records[spec.name], create=True)
            for spec in TABLES
            if spec.name in sheets
        ]
        + list(extra),
        recalc=options.recalc,
    )


def _title(raw: Mapping[str, Any], spec: s.SheetSpec) -> str:
    data = raw.get(spec.name)
    return data.title if data is not None and not isinstance(data, list) else spec.name


def import_files(
    book: str | Path | Door,
    files: Sequence[Path],
    *,
    broker: str | None = None,
    accounts: Mapping[str, str] | None = None,
    mapping: str | None = None,
    options: RunOptions | None = None,
) -> ImportReport:
    """`import`: broker files into Accounts, Holdings, TaxLots and Transactions."""
    door = as_door(book)
    options = options or RunOptions()
    return journaled(  # type: ignore[return-value]
        door,
        "import",
        options,
        lambda: _import(door, files, broker, dict(accounts or {}), mapping, options),
    )


def _import(
    door: Door,
    files: Sequence[Path],
    broker: str | None,
    accounts: dict[str, str],
    mapping: str | None,
    options: RunOptions,
) -> ImportReport:
    from .brokers import read_statement
    from .engine.sync import Change, Current, merge
    from .workbook import model_file

    started = dt.datetime.now().replace(microsecond=0)
    clock = time.perf_counter()
    models = [Path(f) for f in files if broker is None and model_file.looks_like(Path(f))]
    if len(models) > 1:
        raise InputError(
            [Problem(f"one model file at a time: {', '.join(m.name for m in models)}")]
        )
    model = model_file.read_model(models[0]) if models else None
    brokers = [Path(f) for f in files if Path(f) not in models]
    statements = [read_statement(f, broker, mapping) for f in brokers]
    if mapping and not any(st.broker == "generic" for st in statements):
        raise InputError(
            [
                Problem(
                    f"--map {mapping!r}: no file has all these headers; it names the columns "
                    "of your own CSV (the brokers' downloads are read without it)",
                    ", ".join(f.name for f in brokers),
                )
            ]
        )
    raw = door.read_raw()
    current = Current(
        accounts=_rows(raw, s.ACCOUNTS),
        holdings=_rows(raw, s.HOLDINGS),
        lots=_rows(raw, s.TAX_LOTS),
        transactions=_rows(raw, s.TRANSACTIONS),
    )
    result = merge(current, statements, accounts)
    _classes_from_model(door, raw, result)
    targets = None
    if model is not None:
        targets, changes = model_file.target_records(_rows(raw, s.TARGETS), model)
        result.changes += [Change(s.TARGETS.name, kind, text) for kind, text in changes]
        following, cell = _model_setting(raw)
        if following:
            result.problems.append(
                Problem(
                    f"Settings model_file is set ({following}): the runs use that file's "
                    f"targets, not the Targets rows {models[0].name} writes; change the model "
                    "file instead, or clear the setting",
                    _title(raw, s.SETTINGS),
                    cell,
                    "warning",
                )
            )
    report = ImportReport("import", door.path, input_hash=door.digest())
    report.sync = result
    report.files = [Path(f).name for f in files]
    report.warnings = list(result.problems)
    if any(p.level == "error" for p in result.problems):
        raise InputError(result.problems)
    report.seconds = time.perf_counter() - clock
    if options.dry_run or not result.changes:
        return report
    if options.out is None:
        report.backup = door.backup(started, "import")
    notes = [
        f"xl-rebalancer {__version__} import of {', '.join(report.files)}: "
        f"{len(result.changes)} change(s)"
        + (f"; backup {report.backup.name}" if report.backup else ""),
        *(f"{c.sheet}: {c.kind} {c.text}" for c in result.changes),
    ]
    edit = _edit(
        raw,
        result,
        [s.name for s in TABLES if result.changed(s.name)],
        report,
        started,
        notes,
        options,
    )
    if targets is not None and result.changed(s.TARGETS.name):
        edit.rewrites.append(InputRewrite(s.TARGETS, _title(raw, s.TARGETS), targets, create=True))
    report.output = save_backed_up(door, edit, options.out, report.backup)
    report.seconds = time.perf_counter() - clock
    return report


def _model_setting(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """The Settings model_file value as typed (case kept: it is a path), and its cell."""
    from .engine.records import as_text

    data = raw.get(s.SETTINGS.name)
    column = (
        data.columns.get("value", "B") if data is not None and not isinstance(data, list) else "B"
    )
    for row, values in _rows(raw, s.SETTINGS):
        name = "_".join(as_text(values.get("setting")).lower().split())
        if name == "model_file":
            return as_text(values.get("value")), f"{column}{row}"
    return "", None


def _classes_from_model(door: Door, raw: Mapping[str, Any], result: Any) -> None:
    """Holdings rows left without an AssetClass get the model file's (Settings
    model_file): imported positions are classed as the firm classes them, with no map
    typed in per client. A class already typed is kept (validate names a conflict)."""
    from .workbook import model_file

    value, _ = _model_setting(raw)
    if not value:
        return
    try:
        model = model_file.load_model(model_file.model_path(value, door.path))
    except (InputError, WorkbookError):
        return  # validate and every run name the model file's own problem
    classes = model_file.class_of(model)
    if not classes:
        return
    from .engine.sync import Change

    filled = 0
    for _, values in result.holdings:
        symbol = str(values.get("symbol") or "").strip().upper()
        if not values.get("asset_class") and symbol in classes:
            values["asset_class"] = classes[symbol]
            filled += 1
    if filled:
        result.changes.append(
            Change(
                s.HOLDINGS.name,
                "changed",
                f"AssetClass of {filled} holding(s) from the model file {Path(value).name}",
            )
        )


def set_model_file(book: Path, model: Path) -> str:
    """Settings model_file set to `model` (written relative to the workbook's folder when
    it can be, so a folder of clients and its model move together); the model is read
    first, so a workbook never points at a file that does not load. Returns the value."""
    import os

    from .workbook import model_file
    from .workbook.settings_edit import set_settings

    model_file.load_model(model)
    try:
        value = os.path.relpath(model.resolve(), book.resolve().parent)
    except ValueError:  # another drive (Windows)
        value = str(model.resolve())
    value = value.replace(os.sep, "/")
    set_settings(book, {"model_file": value})
    return value


@dataclass
class OrdersReport:
    workbook: Path
    checksum: str
    orders: list[Any]
    files: list[Path]
    # The lots each sale must relieve, for a format that cannot carry them (rows as
    # brokers.orders.CHECKLIST_HEADER), and the file they were written to.
    checklist: list[list[str]] = field(default_factory=list)
    checklist_file: Path | None = None
    warnings: list[Problem] = field(default_factory=list)
    marked: bool = False  # Settings now say the proposal is exported


def _setting(raw: Mapping[str, Any], name: str) -> str:
    """A Settings value as text, lower case ('' when blank or absent)."""
    from .engine.records import as_text

    for _, values in _rows(raw, s.SETTINGS):
        if as_text(values.get("setting")).lower() == name:
            return as_text(values.get("value")).lower()
    return ""


def _proposal(
    door: Door, sheets: Sequence[s.SheetSpec] = (s.TRADES, s.ACCOUNTS)
) -> tuple[list[Any], dict[str, Any]]:
    from .engine.fills import proposal

    raw = door.read_raw(list(sheets))
    if raw.get(s.TRADES.name) is None:
        raise InputError(
            [
                Problem(
                    "no Trades sheet: run rebalance first (if it failed, `xl-rebalancer "
                    "validate` names the cell that stops it)",
                    "Trades",
                    "A1",
                )
            ]
        )
    trades, problems = proposal(_rows(raw, s.TRADES))
    if problems:
        raise InputError(problems)
    return trades, raw


@dataclass(frozen=True)
class _Rows:
    """Rows as a raw sheet holds them, for a rewrite made from rows already edited."""

    title: str
    rows: Sequence[tuple[int | None, dict[str, Any]]]


@dataclass(frozen=True)
class _Where:
    """An account's broker and number, and the cells they are typed in."""

    number: str
    broker: str
    number_cell: str | None
    broker_cell: str | None


def _broker_accounts(raw: Mapping[str, Any]) -> dict[str, _Where]:
    from .engine.records import as_text

    data = raw.get(s.ACCOUNTS.name)
    columns = data.columns if data is not None and not isinstance(data, list) else {}

    def cell(fld: str, row: int) -> str | None:
        return f"{columns[fld]}{row}" if fld in columns else None

    return {
        as_text(v.get("account")): _Where(
            as_text(v.get("broker_account")),
            as_text(v.get("broker")).lower(),
            cell("broker_account", r),
            cell("broker", r),
        )
        for r, v in _rows(raw, s.ACCOUNTS)
    }


@dataclass
class OrderPlan:
    """One workbook's orders, checked and ready for a broker's file (export_orders and
    the firm's blotter, desk.py)."""

    door: Door
    raw: Mapping[str, Any]
    checksum: str
    orders: list[Any]
    numbers: dict[str, str]  # account → full broker number (masked ones left out)
    where: dict[str, Any]  # account → _Where (its broker, number and cells)
    state: Any  # proposal.ProposalState


def plan_orders(door: Door, *, desk: bool = False, again: bool = False) -> OrderPlan:
    """The Trades sheet's orders, refused where they must not be sent: no trades, a
    household or an account marked do-not-trade, a proposal exported or filled already
    (proposal.py). `desk` (the firm's blotter) sends only an approved proposal; `again`
    (export-orders --force) writes an exported proposal's files once more, for files
    lost before they were sent."""
    from .engine.fills import checksum, orders
    from .engine.sync import MASKED
    from .proposal import refusal, state

    trades, raw = _proposal(door, [s.TRADES, s.ACCOUNTS, s.SETTINGS])
    current = state(raw)
    if trades and current.do_not_trade:
        raise InputError(
            [
                Problem(
                    "do_not_trade is TRUE for this household: no order is sent (clear it, "
                    "rebalance and approve again)",
                    "Settings",
                    None,
                )
            ]
        )
    if not trades:
        why = " (do_not_trade is TRUE)" if current.do_not_trade else ""
        raise InputError(
            [Problem(f"the Trades sheet has no trades{why}: nothing to send", "Trades", "A1")]
        )
    planned = orders(trades)
    held = sorted({o.account for o in planned} & set(current.accounts_held))
    if held:
        raise InputError(
            [
                Problem(
                    f"account {', '.join(held)} is marked DoNotTrade but the Trades sheet has "
                    "orders for it (the proposal is older than the mark): rebalance again",
                    _title(raw, s.ACCOUNTS),
                    None,
                )
            ]
        )
    problem = refusal(current, "export")
    if problem is not None and not (again and current.status == "exported"):
        raise InputError([problem])
    if desk and current.status != "approved":
        raise InputError(
            [
                Problem(
                    f"proposal {current.checksum} is {current.status}, not approved: review "
                    "it, then `xl-rebalancer approve` it (or type approved in proposal_status)",
                    "Settings",
                    None,
                )
            ]
        )
    where = _broker_accounts(raw)
    numbers = {
        a: w.number
        for a, w in where.items()
        if w.number and not MASKED.match(w.number) and "..." not in w.number
    }
    return OrderPlan(door, raw, checksum(trades), planned, numbers, where, current)


def writable(door: Door) -> None:
    """Refuse now, before any order file is written, a workbook that could not be marked
    exported afterwards (open in Excel, read-only): files of an unmarked proposal would
    be sent again."""
    from .door import FileDoor
    from .workbook.safety import may_replace

    if isinstance(door, FileDoor):
        may_replace(door.path, door.path)


def mark_status(door: Door, raw: Mapping[str, Any], status: str, tag: str, note: str) -> Path:
    """Settings' proposal_status and proposal_id set, and a Log line, saved under the
    workbook's lock (the workbook's own content is otherwise left as it is)."""
    from .proposal import mark

    started = dt.datetime.now().replace(microsecond=0)
    fresh = door.read_raw([s.SETTINGS]) if raw.get(s.SETTINGS.name) is None else raw
    edit = WorkbookEdit(
        sheets=[log_sheet(log_entries([], started, [f"xl-rebalancer {__version__} {note}"]))],
        rewrites=[mark(fresh, status, tag)],
    )
    from .door import _locked

    # As every save: not over a workbook Excel holds open or one marked read-only.
    with _locked(door, RunOptions()):
        return door.save(edit, None)


def approve(book: str | Path | Door) -> Any:
    """`approve`: the Trades sheet's proposal, as it stands, approved for export. Returns
    its proposal.ProposalState as it was before (its checksum, status, custodians)."""
    from .proposal import state

    door = as_door(book)
    raw = door.read_raw([s.TRADES, s.ACCOUNTS, s.SETTINGS])
    current = state(raw)
    if current.status == "no trades":
        raise InputError(
            [Problem("the Trades sheet has no trades: nothing to approve", "Trades", "A1")]
        )
    if current.do_not_trade:
        raise InputError(
            [Problem("do_not_trade is TRUE for this household: nothing to approve", "Settings")]
        )
    if current.status in ("exported", "filled"):
        raise InputError(
            [
                Problem(
                    f"proposal {current.checksum} is {current.status} already: approving it "
                    "again would send it twice",
                    "Settings",
                )
            ]
        )
    if current.status == "approved" and current.stored_id == current.checksum:
        return current
    mark_status(door, raw, "approved", current.checksum, f"approve: proposal {current.checksum}")
    return current


def export_orders(
    book: str | Path | Door, fmt: str, folder: Path | None = None, *, force: bool = False
) -> OrdersReport:
    """`export-orders`: the Trades sheet as the broker's order file(s). A broker's format
    holds only the accounts at that broker (Accounts' Broker), each under its full
    number: a masked one (`...731`, as Schwab shows it) is refused at its cell, never
    written. For a format that cannot carry lots, the lots each sale must relieve are
    written as a checklist beside the orders. The proposal is then marked exported in
    Settings, so it is not sent twice (proposal.py)."""
    from .brokers.orders import NO_LOTS, lot_checklist, write_checklist, write_orders

    door = as_door(book)
    plan = plan_orders(door, again=force)
    writable(door)  # the files are written only if the proposal can be marked exported
    raw, where, numbers, tag = plan.raw, plan.where, plan.numbers, plan.checksum
    planned = plan.orders
    title = _title(raw, s.ACCOUNTS)
    warnings: list[Problem] = []
    if fmt != "csv":
        mine = [
            o for o in planned if where.get(o.account, _Where("", "", None, None)).broker == fmt
        ]
        others = sorted({o.account for o in planned} - {o.account for o in mine})
        if not mine:
            raise InputError(
                [
                    Problem(
                        f"no account with orders is at {fmt} (Accounts' Broker column: "
                        + ", ".join(
                            f"{a} {where[a].broker or 'blank'}" if a in where else a for a in others
                        )
                        + "); set Broker where it is wrong, or use --format csv",
                        title,
                        next((where[a].broker_cell for a in others if a in where), None),
                    )
                ]
            )
        if others:
            warnings.append(
                Problem(
                    f"{fmt} orders only: the orders of {', '.join(others)} (at another broker, "
                    "or with no Broker on Accounts) are not in this file; export them in "
                    "their broker's format",
                    title,
                    None,
                    "warning",
                )
            )
        masked = [
            Problem(
                f"account {a}: BrokerAccount {where[a].number!r} is masked as the broker shows "
                f"it; a {fmt} order file needs the full account number: type it over the "
                "masked one (imports still match it)",
                title,
                where[a].number_cell,
            )
            for a in sorted({o.account for o in mine})
            if a in where and where[a].number and a not in numbers
        ]
        if masked:
            raise InputError(masked)
        planned = mine
    folder = folder or door.path.parent
    files = write_orders(planned, fmt, folder, door.path.stem, tag, numbers)
    report = OrdersReport(door.path, tag, planned, files, warnings=warnings)
    if fmt in NO_LOTS:
        report.checklist = lot_checklist(planned, numbers)
        if report.checklist:
            report.checklist_file = write_checklist(
                report.checklist, fmt, folder, door.path.stem, tag
            )
    # Only the whole proposal in one file is exported; a broker's part of it leaves the
    # status as it was, so the other brokers' orders can still be written.
    if len(planned) == len(plan.orders) and plan.state.status != "exported":
        written = [*files, *([report.checklist_file] if report.checklist_file else [])]
        try:
            mark_status(
                door,
                raw,
                "exported",
                tag,
                f"export-orders: proposal {tag} exported as {', '.join(p.name for p in written)}",
            )
        except BaseException:
            for path in written:  # not marked, so not sent: no file says otherwise
                path.unlink(missing_ok=True)
            raise
        report.marked = True
    return report


@dataclass
class FillsReport(RunReport):
    fills: Any = None  # engine.fills.FillResult
    checksum: str = ""


def record_fills(
    book: str | Path | Door,
    fills_file: Path | None = None,
    *,
    day: dt.date | None = None,
    options: RunOptions | None = None,
    routed: tuple[Sequence[Any], set[str], str] | None = None,
) -> FillsReport:
    """`record-fills`: what was executed (the proposal as is, or a fills file) applied to
    TaxLots, Holdings, cash and Transactions, with a backup and a Log entry. `routed`
    (desk.route_fills) gives this workbook's share of a custodian's file: its fills
    under the workbook's account names, the proposal ids they name, and the file's name."""
    door = as_door(book)
    options = options or RunOptions()
    return journaled(  # type: ignore[return-value]
        door,
        "record-fills",
        options,
        lambda: _record_fills(door, fills_file, day or dt.date.today(), options, routed),
    )


def _record_fills(
    door: Door,
    fills_file: Path | None,
    day: dt.date,
    options: RunOptions,
    routed: tuple[Sequence[Any], set[str], str] | None = None,
) -> FillsReport:
    from .brokers.fillsfile import read_fills
    from .engine.fills import apply_fills, checksum, fills_from_proposal
    from .engine.records import as_text

    started = dt.datetime.now().replace(microsecond=0)
    trades, _ = _proposal(door)
    raw = door.read_raw()
    tag = checksum(trades)
    report = FillsReport("record-fills", door.path, input_hash=door.digest(), checksum=tag)
    accounts = _rows(raw, s.ACCOUNTS)
    if routed is not None:
        fills, proposals, source = list(routed[0]), routed[1], routed[2]
        if proposals and tag not in proposals:
            report.warnings.append(
                Problem(
                    f"the fills name proposal {', '.join(sorted(proposals))}, the Trades sheet is "
                    f"proposal {tag}: lots are relieved as the Trades sheet says where it names them",
                    source,
                    None,
                    "warning",
                )
            )
    elif fills_file is None:
        fills = fills_from_proposal(trades, day)
    else:
        names = {}
        for _, v in accounts:
            names[as_text(v.get("account")).lower()] = as_text(v.get("account"))
            if v.get("broker_account"):
                names[as_text(v.get("broker_account")).lower()] = as_text(v.get("account"))
        fills, proposals = read_fills(Path(fills_file), day, names)
        if proposals and tag not in proposals:
            report.warnings.append(
                Problem(
                    f"the fills name proposal {', '.join(sorted(proposals))}, the Trades sheet is "
                    f"proposal {tag}: lots are relieved as the Trades sheet says where it names them",
                    Path(fills_file).name,
                    None,
                    "warning",
                )
            )
    result = apply_fills(
        accounts,
        _rows(raw, s.HOLDINGS),
        _rows(raw, s.TAX_LOTS),
        _rows(raw, s.TRANSACTIONS),
        fills,
        trades,
        lot_method=_setting(raw, "lot_method") or "fifo",
    )
    report.fills = result
    extra: list[InputRewrite] = []
    short = _unfilled(trades, [*result.applied, *result.already]) if result.applied else []
    if result.applied:
        extra = _cash_flows(raw, result, day)
        # The proposal is filled (proposal.py): Settings say so, in the same save.
        status = {"proposal_status": "filled", "proposal_id": tag}
        settings = next((r for r in extra if r.spec is s.SETTINGS), None)
        if settings is not None:
            extra.remove(settings)
        from .proposal import settings_rewrite

        extra.append(
            settings_rewrite(
                {s.SETTINGS.name: _Rows(_title(raw, s.SETTINGS), settings.records)}
                if settings is not None
                else raw,
                status,
            )
        )
    report.warnings += result.problems
    if any(p.level == "error" for p in result.problems):
        raise InputError(report.warnings)
    report.warnings += short
    if options.dry_run or not result.applied:
        return report
    if options.out is None:
        report.backup = door.backup(started, "fills")
    notes = [
        f"xl-rebalancer {__version__} record-fills: proposal {tag}, {len(result.applied)} fill(s) "
        f"recorded, {len(result.already)} already on Transactions"
        + (f"; backup {report.backup.name}" if report.backup else ""),
        *result.changes,
    ]
    sheets = [
        spec.name
        for spec in TABLES
        if spec is not s.HOLDINGS or raw.get(spec.name) is not None or result.holdings
    ]
    edit = _edit(raw, result, sheets, report, started, notes, options, extra)
    report.output = save_backed_up(door, edit, options.out, report.backup)
    return report


def _unfilled(trades: Sequence[Any], fills: Sequence[Any]) -> list[Problem]:
    """The proposal's orders this file's fills leave short: it is marked filled (what
    was executed is on the books, and the next run proposes the rest anew), and the
    review, on screen too, says what is missing."""
    from collections import defaultdict

    from .engine.fills import orders
    from .engine.records import SHARE_TOL

    done: dict[tuple[str, str, str], float] = defaultdict(float)
    for f in fills:
        done[(f.account.lower(), f.symbol, f.action)] += f.shares
    short = [
        f"{o.account} {o.action} {o.symbol} {done[(o.account.lower(), o.symbol, o.action)]:g} "
        f"of {o.shares:g}"
        for o in orders(trades)
        if done[(o.account.lower(), o.symbol, o.action)] + SHARE_TOL < o.shares
    ]
    if not short:
        return []
    return [
        Problem(
            f"the proposal is partly filled ({'; '.join(short)} shares): what filled is "
            "recorded and the proposal marked filled; the next run proposes the rest anew, "
            "so route the other accounts' fills files before it",
            "Trades",
            None,
            "warning",
        )
    ]


def _cash_flows(raw: Mapping[str, Any], result: Any, day: dt.date) -> list[InputRewrite]:
    """The run's CashFlows rows (and the cash_flow setting) applied to Cash once, with
    the CashFlows and Settings rewrites that say so (engine.fills.apply_cash_flows)."""
    from .engine.fills import apply_cash_flows
    from .engine.records import as_num, as_text

    settings = _rows(raw, s.SETTINGS)
    setting_row = next(
        (v for _, v in settings if as_text(v.get("setting")).lower() == "cash_flow"), None
    )
    setting = as_num(setting_row.get("value")) if setting_row else None
    flows, cleared = apply_cash_flows(result, _rows(raw, s.CASH_FLOWS), setting or 0.0, day)
    out: list[InputRewrite] = []
    if raw.get(s.CASH_FLOWS.name) is not None and any(v.get("applied_on") for _, v in flows):
        out.append(InputRewrite(s.CASH_FLOWS, _title(raw, s.CASH_FLOWS), flows))
    if cleared and setting_row is not None:
        setting_row["value"] = 0
        out.append(InputRewrite(s.SETTINGS, _title(raw, s.SETTINGS), settings))
    return out
