"""Brokers' files in (positions, lots, history) and order files out.

`read_statement` detects the broker and the kind of file from its content (the name is
only a hint users rename), unless `broker` says which. A `mapping` (--map) is for the
generic file whose headers it names, not every file of the import. Every reader returns a
models.brokers.BrokerStatement whose problems name the file and line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, Problem
from ..models.brokers import BrokerStatement
from . import fidelity, generic, ibkr, ofx, schwab, vanguard
from .common import check_file, csv_lines, read_text

BROKERS = ("schwab", "fidelity", "vanguard", "ibkr", "ofx", "generic")


def read_statement(
    path: Path, broker: str | None = None, mapping: str | None = None, account: str | None = None
) -> BrokerStatement:
    """One broker file, read. `account` is the broker account a file belongs to when it
    does not say (a history file without an account column); `mapping` names a generic
    CSV's columns."""
    file = path.name
    if broker not in (None, *BROKERS):
        raise InputError([Problem(f"unknown broker {broker!r}; one of {', '.join(BROKERS)}", file)])
    check_file(path)
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("latin-1")
    if broker == "ibkr" or (broker is None and ibkr.looks_like(head)):
        return ibkr.read(path)
    if broker == "ofx" or (broker is None and ofx.looks_like(head)):
        return ofx.read(path)
    if mapping:
        generic.parse_map(mapping, file)  # a malformed map is refused whatever the file
    lines = csv_lines(read_text(path), file)
    if broker == "generic" or (mapping and broker is None and generic.describes(lines, mapping)):
        return generic.read(lines, file, generic.parse_map(mapping, file), account)
    readers = {
        "schwab": (
            schwab.looks_like,
            {
                "positions": lambda: schwab.read_positions(lines, file),
                "realized": lambda: schwab.read_realized(lines, file, account),
                "transactions": lambda: schwab.read_transactions(lines, file, account),
            },
        ),
        "fidelity": (
            fidelity.looks_like,
            {
                "positions": lambda: fidelity.read_positions(lines, file),
                "realized": lambda: fidelity.read_realized(lines, file, account),
                "history": lambda: fidelity.read_history(lines, file, account),
            },
        ),
    }
    for name, (looks_like, kinds) in readers.items():
        if broker in (None, name):
            kind = looks_like(lines)
            if kind in kinds:
                return kinds[kind]()
    if broker in (None, "vanguard") and vanguard.looks_like(lines):
        return vanguard.read(lines, file)
    if broker is None:
        return generic.read(lines, file, generic.parse_map(None, file), account)
    raise InputError(
        [
            Problem(
                f"not a {broker} file this version reads (positions, realized gain/loss or history); "
                "see docs/brokers.md in the project",
                file,
            )
        ]
    )
