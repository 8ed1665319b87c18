"""Every package we write, checked against the Open XML schemas and Excel's own habits
by openxml-audit (an Open XML SDK port): no error but the one known false alarm, no
warning (such as inline strings Excel would rewrite on its next save)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions

AUDIT = Path(sys.executable).with_name("openxml-audit")


def findings(path: Path) -> tuple[list[dict], list[dict]]:
    done = subprocess.run(
        [str(AUDIT), str(path), "-o", "json", "-m", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)[0]
    errors = [
        e
        for e in report["errors"]
        # openpyxl writes a font's <name> first; CT_Font is a choice, so any order is valid
        # and Excel reads it (the checker treats it as a sequence).
        if not (
            e["part_uri"] == "/xl/styles.xml"
            and "/fonts[1]/font[" in e["path"]
            and e["description"].startswith("Unexpected element")
        )
    ]
    return errors, report.get("warnings", [])


@pytest.mark.skipif(not AUDIT.exists(), reason="openxml-audit is a dev dependency")
def test_template_and_every_run_output_pass_the_open_xml_checks(tmp_path: Path, demo_files):
    book, prices = demo_files
    outputs = [REPO / "workbook_template.xlsm"]
    for command in ("rebalance", "harvest", "realized"):
        work = tmp_path / f"{command}.xlsm"
        shutil.copyfile(book, work)
        run_engine(work, command, RunOptions(prices_file=prices, recalc=command == "rebalance"))
        outputs.append(work)
    for path in outputs:
        errors, warnings = findings(path)
        assert not errors, (path.name, errors[:3])
        assert not warnings, (path.name, warnings[:3])
