"""The firm's trading desk: one order file per custodian for a folder of clients, and one
custodian's fills file routed back to every client it names.

A firm does not trade workbook by workbook. Each morning the approved proposals of every
client go to each custodian as one file (the blotter), with an allocation by account
(which client, which account, which number, how many shares) and the lots every sale
must relieve; each evening the custodian's one file of executions comes back and is
recorded in every workbook it concerns, placed by the broker account number the
Accounts sheet remembers.

What it refuses, and why:
- a client whose proposal is not approved, is exported already, or is marked
  do-not-trade is left out of the blotter with a sentence (never sent twice, never sent
  unreviewed); a client whose orders cannot go into a broker's file (a masked number, a
  quantity the format cannot carry) is left out with its reason, the others go;
- a fills file with a row no workbook (or two workbooks) claims is refused whole, naming
  the rows, and nothing is recorded: a partly recorded file is a desk's worst afternoon.
  Every workbook's share is checked (as a dry run) before any is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .batch import collect_workbooks
from .batch_report import BatchResult, BatchRow, _desk
from .door import RunOptions, as_door
from .errors import InputError, Problem, XlRebalancerError
from .workbook import schema as s

# The broker's own order format, for each custodian the Accounts sheet's Broker names;
# any other custodian (vanguard, an OFX broker, blank) gets the generic file.
BROKER_FORMATS = {"schwab": "schwab", "fidelity": "fidelity", "ibkr": "ibkr"}
ALLOCATION_HEADER = [
    "Workbook",
    "Account",
    "BrokerAccount",
    "Custodian",
    "Symbol",
    "Side",
    "Shares",
    "EstPrice",
    "ProposalId",
    "OrderFile",
]
CHECKLIST_HEADER = ["Workbook", "Account", "BrokerAccount", "Custodian", "Symbol", "SellShares"]
CHECKLIST_HEADER += ["LotId", "Acquired", "LotShares", "Instruction"]


@dataclass
class Blotter:
    """What the desk's export wrote, and each client's row for the review."""

    result: BatchResult
    files: dict[str, list[Path]] = field(default_factory=dict)  # custodian → order files
    allocation: Path | None = None
    checklist: Path | None = None
    tag: str = ""


def _row(path: Path, status: str, message: str = "", **fields: Any) -> BatchRow:
    return BatchRow(workbook=str(path), status=status, message=message, **fields)  # type: ignore[arg-type]


def _custodian(plan: Any, account: str) -> str:
    where = plan.where.get(account)
    return where.broker if where is not None and where.broker else "other"


def export_blotter(
    items: Sequence[str | Path], fmt: str, folder: Path, *, dry_run: bool = False
) -> Blotter:
    """`batch --command export-orders`: every approved client's orders in one file per
    custodian (`fmt` auto: each custodian in its own format; a broker's format: that
    custodian's clients only; csv: one generic file), the allocation by account, the
    combined lot checklist; each exported client is marked exported."""
    from .brokers.orders import _write_csv, write_orders
    from .trading import mark_status

    clock = time.perf_counter()
    paths, missing = collect_workbooks(items)
    result = BatchResult(rows=list(missing))
    plans = _approved_plans(paths, fmt, result)
    lines = _blotter_lines(plans, fmt)
    blotter = Blotter(result)
    key = "|".join(f"{p.name}:{plan.checksum}" for p, plan in plans)
    blotter.tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    stem = f"blotter-{dt.date.today():%Y%m%d}"
    if plans and not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
        for custodian, orders in sorted(lines.per.items()):
            out_fmt = _format_for(fmt, custodian)
            numbers = {o.account: o.account for o in orders}
            blotter.files[custodian] = write_orders(
                orders, out_fmt, folder, stem, blotter.tag, numbers, tags=lines.tags, one_file=True
            )
        if lines.generic:
            path = folder / f"{stem}-orders-csv-{blotter.tag}.csv"
            header = ["Workbook", "ProposalId", "Account", "BrokerAccount", "Custodian", "Action"]
            header += ["Symbol", "Quantity", "OrderType", "TimeInForce", "EstPrice"]
            _write_csv(path, [[*header, "LotInstructions"], *map(_safe_row, lines.generic)])
            blotter.files.setdefault("csv" if fmt == "csv" else "other", []).append(path)
        blotter.allocation = folder / f"{stem}-allocation-{blotter.tag}.csv"
        _write_csv(blotter.allocation, [ALLOCATION_HEADER, *map(_safe_row, lines.allocation)])
        if lines.checklist:
            blotter.checklist = folder / f"{stem}-lot-checklist-{blotter.tag}.csv"
            _write_csv(blotter.checklist, [CHECKLIST_HEADER, *lines.checklist])
    names = {c: [f.name for f in files] for c, files in blotter.files.items()}
    for path, plan in plans:
        custodians = sorted({_custodian(plan, o.account) for o in plan.orders})
        row = _row(
            path,
            "ok",
            f"{len(plan.orders)} order(s) in the blotter: "
            + "; ".join(
                f"{c}: {', '.join(names.get(c, names.get('other', names.get('csv', ['-']))))}"
                for c in custodians
            ),
            trades=len(plan.orders),
            proposal="exported" if not dry_run else plan.state.status,
            proposal_id=plan.checksum,
            custodians=custodians,
        )
        if not dry_run:
            try:
                mark_status(
                    plan.door,
                    plan.raw,
                    "exported",
                    plan.checksum,
                    f"export-orders (firm blotter {blotter.tag}): proposal {plan.checksum}",
                )
            except XlRebalancerError as exc:
                row.status = "error"
                row.proposal = plan.state.status
                row.message = (
                    f"its orders ARE in the blotter, but the workbook could not be marked "
                    f"exported ({exc}): mark it (type exported and {plan.checksum} in Settings) "
                    "before the next export, or take its rows out of the files"
                )
        result.rows.append(row)
    order = {str(p): i for i, p in enumerate(paths)}
    result.rows.sort(key=lambda r: order.get(r.workbook, -1))
    result.seconds = time.perf_counter() - clock
    return blotter


def _approved_plans(paths: Sequence[Path], fmt: str, result: BatchResult) -> list[tuple[Path, Any]]:
    """The clients whose orders go into this blotter, each with its plan; every other
    client gets its row on `result` saying why it was left out."""
    from .brokers.orders import _quantity
    from .trading import plan_orders, writable

    plans: list[tuple[Path, Any]] = []
    for path in paths:
        door = as_door(path)
        try:
            plan = plan_orders(door, desk=True)
            writable(door)
        except InputError as exc:
            result.rows.append(_skip_or_fail(path, exc))
            continue
        except XlRebalancerError as exc:
            result.rows.append(_row(path, "error", str(exc)))
            continue
        custodians = sorted({_custodian(plan, o.account) for o in plan.orders})
        reason = _unsendable(plan, fmt, custodians)
        if reason is None:  # every quantity fits its custodian's format
            try:
                for o in plan.orders:
                    _quantity(o.shares, _format_for(fmt, _custodian(plan, o.account)), o)
            except InputError as exc:
                reason = str(exc.problems[0])
        if reason is not None:
            result.rows.append(
                _row(path, "invalid", reason, proposal=plan.state.status, custodians=custodians)
            )
            continue
        plans.append((path, plan))
    return plans


@dataclass
class _Lines:
    """The blotter's contents before any file is written."""

    per: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    tags: dict[str, str] = field(default_factory=dict)
    allocation: list[list[str]] = field(default_factory=list)
    checklist: list[list[str]] = field(default_factory=list)
    generic: list[list[str]] = field(default_factory=list)


def _blotter_lines(plans: Sequence[tuple[Path, Any]], fmt: str) -> _Lines:
    """Per custodian, every client's orders under the broker's full number (unique across
    the firm, where account names are not: every client has a "Roth"), the allocation
    by account, the generic file's rows and the lot checklist."""
    from .brokers.orders import NO_LOTS, _quantity, lot_checklist

    lines = _Lines()
    for path, plan in plans:
        for o in plan.orders:
            custodian = _custodian(plan, o.account)
            out_fmt = _format_for(fmt, custodian)
            number = plan.numbers.get(o.account, "")
            lines.allocation.append(
                [
                    path.name,
                    o.account,
                    number,
                    custodian,
                    o.symbol,
                    o.action,
                    _quantity(o.shares, out_fmt, o),
                    f"{o.price:.4f}" if o.price else "",
                    plan.checksum,
                    out_fmt,
                ]
            )
            if out_fmt == "csv":
                lines.generic.append(
                    [
                        path.name,
                        plan.checksum,
                        o.account,
                        number,
                        custodian,
                        o.action,
                        o.symbol,
                        _quantity(o.shares, "csv", o),
                        "MKT",
                        "DAY",
                        f"{o.price:.4f}" if o.price else "",
                        "; ".join(
                            f"{lot.lot_id} acquired {lot.acquired or 'unknown'}: {lot.shares:g} sh"
                            for lot in o.lots
                        ),
                    ]
                )
            else:
                lines.per[custodian].append(o.model_copy(update={"account": number}))
                lines.tags[number] = plan.checksum
        # The lots a sale relieves, for the formats that cannot carry them (Schwab's
        # lots file and the generic file's LotInstructions do).
        carried = [
            o for o in plan.orders if _format_for(fmt, _custodian(plan, o.account)) in NO_LOTS
        ]
        for row in lot_checklist(carried, plan.numbers):
            lines.checklist.append(
                [path.name, row[0], row[1], _custodian(plan, _unsafe(row[0])), *row[2:]]
            )
    return lines


def _unsafe(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _safe_row(row: Sequence[str]) -> list[str]:
    from .brokers.orders import _safe

    return [_safe(str(c)) for c in row]


def _format_for(fmt: str, custodian: str) -> str:
    if fmt == "auto":
        return BROKER_FORMATS.get(custodian, "csv")
    return fmt


def _unsendable(plan: Any, fmt: str, custodians: list[str]) -> str | None:
    """Why a client's approved proposal cannot go into this blotter, or None."""
    if fmt not in ("auto", "csv") and custodians != [fmt]:
        others = ", ".join(c for c in custodians if c != fmt)
        return (
            f"orders at {others} too: a proposal goes whole or not at all; use --format auto "
            "(each custodian in its own format) or csv"
        )
    for o in plan.orders:
        custodian = _custodian(plan, o.account)
        if _format_for(fmt, custodian) == "csv":
            continue
        where = plan.where.get(o.account)
        number = where.number if where is not None else ""
        if not number:
            return (
                f"account {o.account} has no BrokerAccount: a {custodian} order file needs the "
                "broker's account number (Accounts sheet)"
            )
        if o.account not in plan.numbers:
            return (
                f"account {o.account}: BrokerAccount {number!r} is masked; a {custodian} order "
                "file needs the full number: type it over the masked one"
            )
    return None


def _skip_or_fail(path: Path, exc: InputError) -> BatchRow:
    """A client the blotter leaves out: skipped when that is the desk's routine (not
    approved, exported already, nothing to trade, do-not-trade), invalid otherwise."""
    from .proposal import state

    first = exc.problems[0] if exc.problems else None
    message = first.message if first else str(exc)
    try:
        current = state(as_door(path).read_raw([s.TRADES, s.ACCOUNTS, s.SETTINGS]))
    except XlRebalancerError:
        current = None
    routine = current is not None and (
        current.status in ("proposed", "exported", "filled", "no trades") or current.do_not_trade
    )
    fields: dict[str, Any] = {}
    if current is not None:
        fields = {
            "proposal": current.status,
            "proposal_id": current.checksum or None,
            "custodians": list(current.custodians),
            "do_not_trade": _held(current),
        }
    where = f"{first.sheet}!{first.cell or 'A1'}" if first and first.sheet else None
    return _row(path, "skipped" if routine else "invalid", message, where=where, **fields)


def _held(current: Any) -> str:
    if current.do_not_trade:
        return "household"
    return ", ".join(current.accounts_held)


# fills --------------------------------------------------------------------------------


@dataclass
class Routing:
    result: BatchResult
    source: str = ""
    broker: str = ""
    fills: int = 0
    recorded: int = 0
    already: int = 0


def route_fills(
    items: Sequence[str | Path],
    fills_file: Path,
    *,
    day: dt.date | None = None,
    options: RunOptions | None = None,
) -> Routing:
    """`batch --command record-fills --fills FILE` (and `record-fills FOLDER FILE`): one
    custodian's executions recorded in every workbook they belong to, by BrokerAccount.
    All or nothing: a row no workbook claims, one two workbooks claim, or a workbook that
    refuses its share stops the whole file before anything is written."""
    from .brokers.fillsfile import read_fill_rows
    from .trading import _broker_accounts, record_fills

    clock = time.perf_counter()
    options = options or RunOptions()
    day = day or dt.date.today()
    read = read_fill_rows(Path(fills_file), day)
    paths, missing = collect_workbooks(items)
    routing = Routing(BatchResult(rows=list(missing)), Path(fills_file).name, read.broker)
    routing.fills = len(read.fills)
    owners: dict[Path, dict[str, Any]] = {}
    unreadable: list[BatchRow] = []
    for path in paths:
        try:
            raw = as_door(path).read_raw([s.ACCOUNTS, s.SETTINGS, s.TRADES])
        except XlRebalancerError as exc:
            unreadable.append(_row(path, "error", str(exc)))
            continue
        owners[path] = _broker_accounts(raw)
    placed, proposals, refused = _place(read, owners)
    if refused or unreadable:
        lines = refused + [f"{Path(r.workbook).name}: {r.message}" for r in unreadable]
        raise InputError(
            [
                Problem(
                    f"{len(lines)} of the file's rows or workbooks cannot be placed; nothing was "
                    "recorded (all or nothing):\n    " + "\n    ".join(lines),
                    routing.source,
                )
            ]
        )
    # Each workbook's share checked first (a dry run), so a sale larger than the lots
    # or an unreadable sheet in one stops the file before any workbook is written.
    checked: list[BatchRow] = []
    for path in paths:
        if path not in placed:
            continue
        share = (placed[path], proposals[path], routing.source)
        try:
            record_fills(path, day=day, options=replace(options, dry_run=True), routed=share)
        except XlRebalancerError as exc:
            problems = getattr(exc, "problems", [])
            checked.append(_row(path, "invalid", str(problems[0]) if problems else str(exc)))
    if checked:
        lines = [f"{Path(r.workbook).name}: {r.message}" for r in checked]
        raise InputError(
            [
                Problem(
                    f"{len(checked)} workbook(s) refuse their fills; nothing was recorded "
                    "(all or nothing):\n    " + "\n    ".join(lines),
                    routing.source,
                )
            ]
        )
    for path in paths:
        if path not in placed:
            continue
        share = (placed[path], proposals[path], routing.source)
        started = time.perf_counter()
        try:
            report = record_fills(path, day=day, options=options, routed=share)
        except XlRebalancerError as exc:
            routing.result.rows.append(_row(path, "error", str(exc)))
            continue
        fills = report.fills
        routing.recorded += len(fills.applied)
        routing.already += len(fills.already)
        message = (
            f"{len(fills.applied)} fill(s) recorded"
            + (f", {len(fills.already)} already recorded" if fills.already else "")
            if fills.applied
            else f"nothing new: {len(fills.already)} fill(s) already recorded"
        )
        warned = [w for w in report.warnings if w.level == "warning"]
        partly = next((w for w in warned if "partly filled" in w.message), None)
        if partly is not None:  # said on screen too, not only in the JSON
            message += "; " + partly.message
        routing.result.rows.append(
            _row(
                path,
                "ok",
                message,
                trades=len(fills.applied),
                proposal="filled" if fills.applied else None,
                proposal_id=report.checksum,
                custodians=sorted({w.broker for w in owners[path].values() if w.broker}),
                warnings=len(warned),
                first_warning=warned[0].message if warned else "",
                output=str(report.output) if report.output else None,
                seconds=time.perf_counter() - started,
            )
        )
        _desk(routing.result.rows[-1], path, "record-fills", options)
    routing.result.seconds = time.perf_counter() - clock
    return routing


def _place(
    read: Any, owners: dict[Path, dict[str, Any]]
) -> tuple[dict[Path, list[Any]], dict[Path, set[str]], list[str]]:
    """Each row's workbook and account: the broker number (full, or masked at the same
    broker, as import matches them); a generic file's row may name no broker. A row no
    workbook claims, or two claim, is a sentence in the third list."""
    from .engine.sync import same_number

    placed: dict[Path, list[Any]] = defaultdict(list)
    proposals: dict[Path, set[str]] = defaultdict(set)
    refused: list[str] = []
    for fill, proposal in zip(read.fills, read.proposals, strict=True):
        number = fill.account.strip()
        hits = [
            (path, account)
            for path, accounts in owners.items()
            for account, where in accounts.items()
            if where.number
            and (where.number == number or same_number(where.number, number))
            and (read.broker == "generic" or not where.broker or where.broker == read.broker)
        ]
        if len(hits) != 1:
            why = (
                "no workbook's Accounts sheet has this BrokerAccount"
                if not hits
                else "BrokerAccount of "
                + " and ".join(f"{p.name} ({a})" for p, a in hits)
                + ": which client is it?"
            )
            refused.append(
                f"{fill.where}: {fill.action} {fill.shares:g} {fill.symbol} in account "
                f"{number!r}: {why}"
            )
            continue
        path, account = hits[0]
        placed[path].append(fill.model_copy(update={"account": account}))
        if proposal:
            proposals[path].add(proposal)
    return placed, proposals, refused


def approve_all(items: Sequence[str | Path]) -> BatchResult:
    """`batch --command approve`: every client's proposal as it stands approved, for a
    desk whose review happened on the morning report (each workbook is marked)."""
    from .trading import approve

    clock = time.perf_counter()
    paths, missing = collect_workbooks(items)
    result = BatchResult(rows=list(missing))
    for path in paths:
        try:
            before = approve(path)
        except InputError as exc:
            result.rows.append(_skip_or_fail(path, exc))
            continue
        except XlRebalancerError as exc:
            result.rows.append(_row(path, "error", str(exc)))
            continue
        result.rows.append(
            _row(
                path,
                "ok",
                f"proposal {before.checksum} approved"
                + (" (it was already)" if before.status == "approved" else ""),
                trades=before.trades,
                proposal="approved",
                proposal_id=before.checksum,
                custodians=list(before.custodians),
                do_not_trade=_held(before),
            )
        )
    result.seconds = time.perf_counter() - clock
    return result
