"""The run journal: one JSON line per run, kept outside the workbook.

A trade list is only as trustworthy as the ability to say, later, what produced it.
Each run appends what it read (the file's hash, and a hash of the validated inputs the
engine actually consumed: every table, every setting, the valuation date), the prices
it used with their sources, the engine version and options, and what it wrote (the
output's hash and a hash of the trade list). The Log sheet carries the same facts, but
the workbook can be edited or lost; the journal cannot be overwritten by a save.

Running the same engine version on a workbook whose inputs hash the same, with the
recorded prices (the cache offline, or the same --prices file), gives the same trade
list: `trades_sha256` shows it.

Location: $XL_REBALANCER_JOURNAL, else the user's state folder
(~/.local/state/xl-rebalancer/journal.jsonl, %LOCALAPPDATA%\\xl-rebalancer\\journal.jsonl,
~/Library/Application Support/xl-rebalancer/journal.jsonl).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def journal_path() -> Path:
    override = os.environ.get("XL_REBALANCER_JOURNAL")
    if override:
        return Path(override)
    from platformdirs import user_state_path

    return user_state_path("xl-rebalancer", appauthor=False) / "journal.jsonl"


def digest(data: Any) -> str:
    """sha256 of a JSON-able value in one canonical form (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def record(entry: dict[str, Any], path: Path | None = None) -> Path | None:
    """Append one entry; a journal that cannot be written never fails the run itself
    (the Log sheet still has the facts), so an error here is returned as None."""
    path = path or journal_path()
    line = json.dumps({"time": dt.datetime.now().isoformat(timespec="seconds"), **entry})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line in append mode: concurrent batch workers interleave
        # whole lines, never parts of them.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        return None
    return path


def entries(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every readable entry, oldest first; a damaged line (a disk filled mid-write) is skipped."""
    path = path or journal_path()
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
