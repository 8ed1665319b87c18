"""A proposal's life in the workbook: proposed → approved → exported → filled.

The Trades sheet is the proposal; Settings carries where it stands (`proposal_status`)
and which proposal that is about (`proposal_id`, the Trades sheet's checksum, as every
order file names it). Binding the status to the checksum is what keeps a desk from
repeating itself: a run that writes another proposal has another checksum, so it starts
again as proposed and needs its own approval; an exported proposal is not exported
again, and a run does not replace it until its fills are recorded (the lots its sales
named are on that Trades sheet, and record-fills needs them).

This module reads and writes only the raw Settings rows a Door gives (workbook.rows's raw
sheets), so the command line, batch and the ribbon share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Problem
from .workbook import schema as s

STATUSES = ("proposed", "approved", "exported", "filled")
NONE = "no trades"  # the Trades sheet proposes nothing: nothing to approve or send


@dataclass(frozen=True)
class ProposalState:
    """Where a workbook's proposal stands, as the review and the desk read it."""

    status: str  # one of STATUSES, or NONE
    checksum: str  # the Trades sheet's checksum ('' without trades)
    trades: int
    stored: str  # proposal_status as typed ('' when blank)
    stored_id: str  # proposal_id as typed
    do_not_trade: bool
    accounts_held: tuple[str, ...]  # accounts marked DoNotTrade
    custodians: tuple[str, ...]  # the Accounts sheet's Broker values, in order


def _rows(raw: Mapping[str, Any], spec: s.SheetSpec) -> list[tuple[int | None, dict[str, Any]]]:
    data = raw.get(spec.name)
    if data is None or isinstance(data, list):
        return []
    return [(r, dict(v)) for r, v in data.rows]


def setting(raw: Mapping[str, Any], name: str) -> str:
    """A Settings value as text, lower case ('' when blank or absent)."""
    from .engine.records import as_text

    for _, values in _rows(raw, s.SETTINGS):
        if as_text(values.get("setting")).strip().lower() == name:
            value = values.get("value")
            if isinstance(value, bool):  # Excel's TRUE
                return str(value).lower()
            return as_text(value).strip().lower()
    return ""


def truthy(text: Any) -> bool:
    return str(text).strip().lower() in ("true", "1", "yes", "x", "y")


def state(raw: Mapping[str, Any]) -> ProposalState:
    """The proposal's status from the raw Trades, Settings and Accounts sheets."""
    from .engine.fills import checksum, proposal
    from .engine.records import as_text

    trades, _ = proposal(_rows(raw, s.TRADES))
    tag = checksum(trades) if trades else ""
    stored = setting(raw, "proposal_status")
    stored_id = setting(raw, "proposal_id")
    if not trades:
        status = NONE
    elif stored not in STATUSES or (stored_id and stored_id != tag):
        status = "proposed"  # blank, or about an earlier proposal
    elif not stored_id and stored != "approved":
        status = "proposed"  # only an approval may be typed without the checksum
    else:
        status = stored
    accounts = _rows(raw, s.ACCOUNTS)
    custodians: dict[str, None] = {}
    for _, v in accounts:
        broker = as_text(v.get("broker")).strip().lower()
        if broker:
            custodians.setdefault(broker, None)
    return ProposalState(
        status=status,
        checksum=tag,
        trades=len(trades),
        stored=stored,
        stored_id=stored_id,
        do_not_trade=truthy(setting(raw, "do_not_trade")),
        accounts_held=tuple(
            as_text(v.get("account")) for _, v in accounts if truthy(v.get("do_not_trade"))
        ),
        custodians=tuple(custodians),
    )


def settings_rewrite(raw: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """The Settings table with `values` set (rows added where the setting is absent): the
    one rewrite approve, export-orders and record-fills make to say where the proposal is."""
    from .engine.records import as_text
    from .workbook.edits import InputRewrite

    rows = _rows(raw, s.SETTINGS)
    left = dict(values)
    for _, row in rows:
        name = as_text(row.get("setting")).strip().lower()
        if name in left:
            row["value"] = left.pop(name)
    for name, value in left.items():
        rows.append((None, {"setting": name, "value": value}))
    data = raw.get(s.SETTINGS.name)
    title = data.title if data is not None and not isinstance(data, list) else s.SETTINGS.name
    return InputRewrite(s.SETTINGS, title, rows, create=True)


def mark(raw: Mapping[str, Any], status: str, tag: str) -> Any:
    """Settings saying the proposal `tag` is now `status`."""
    assert status in STATUSES
    return settings_rewrite(raw, {"proposal_status": status, "proposal_id": tag})


def refusal(current: ProposalState, doing: str) -> Problem | None:
    """Why `doing` (export, run) must not touch this proposal, or None."""
    if current.status == "exported" and doing in ("export", "run"):
        what = (
            "its orders were written already (export-orders --force writes them again, "
            "for files lost before they were sent)"
            if doing == "export"
            else "a run would replace it before its fills are recorded"
        )
        return Problem(
            f"proposal {current.checksum} is exported and not yet filled: {what}. Record its "
            "fills (record-fills), or type proposed over exported in proposal_status to "
            "drop the export",
            "Settings",
            None,
        )
    if current.status == "filled" and doing == "export":
        return Problem(
            f"proposal {current.checksum} is filled (its fills are recorded): there is "
            "nothing left to send; the next run proposes anew",
            "Settings",
            None,
        )
    return None


def describe(current: ProposalState) -> str:
    """The review's one word for a client: its status, do-not-trade first."""
    if current.do_not_trade:
        return "do not trade"
    return current.status


def held_accounts(rows: Sequence[tuple[Any, dict[str, Any]]]) -> list[str]:
    from .engine.records import as_text

    return [as_text(v.get("account")) for _, v in rows if truthy(v.get("do_not_trade"))]
