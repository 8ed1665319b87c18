"""Output a script can trust (issue 19).

Every command with --json prints exactly one JSON document on standard output, on
success and on failure, and nothing else reaches the terminal: no HiGHS banner (written
from C, so the real bytes of file descriptor 1 are read here), no yfinance line, no
warning. When Yahoo cannot be reached the run says so once and goes on.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from tests.reliability.test_numerics import _history_file, _walk

BROKER_FILES = Path(__file__).parent / "brokers" / "files"

# What third-party libraries print when left alone (HiGHS 1.16's banner, yfinance's
# per-symbol lines, Python warnings).
NOISE = ("HiGHS", "Copyright", "yfinance", "possibly delisted", "Warning:", "crumb", "curl:")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args],
        capture_output=True,
        cwd=cwd,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from xl_rebalancer.demo import write_demo

    root = tmp_path_factory.mktemp("contract")
    book, prices = write_demo(root / "demo")
    data = copy.deepcopy(TWO_FUNDS)
    strategy = write_book(
        root / "strategy.xlsm",
        data,
        {**TWO_FUNDS_SETTINGS, "strategy": "min_variance", "lookback_days": 250},
    )
    history = _history_file(root / "history.csv", {"AAA": _walk(1, 3e-4), "BBB": _walk(2, 1e-4)})
    broken = root / "broken.xlsm"
    shutil.copyfile(book, broken)
    from openpyxl import load_workbook

    wb = load_workbook(broken, keep_vba=True)
    wb["TaxLots"]["E2"] = "ten"
    wb.save(broken)
    nowhere = write_book(
        root / "no_price.xlsm",
        {**data, "Prices": []},
        {**TWO_FUNDS_SETTINGS, "price_source": "cache"},
    )
    return {
        "root": root,
        "book": book,
        "prices": prices,
        "strategy": strategy,
        "history": history,
        "broken": broken,
        "no_price": nowhere,
    }


def cases(f: dict[str, Path]) -> list[tuple[list[str], int]]:
    """(arguments, exit code): every command, on success and on failure."""
    book, prices, root = str(f["book"]), str(f["prices"]), f["root"]
    engine = ["--prices", prices, "--dry-run", "--json"]
    return [
        (["init", str(root / "new.xlsm"), "--json"], 0),
        (["init", str(root / "new.xlsx"), "--json"], 1),
        (["build-template", str(root / "built.xlsm"), "--json"], 0),
        (["validate", book, "--json"], 0),
        (["validate", str(f["broken"]), "--json"], 1),
        (["refresh-prices", book, *engine], 0),
        (["drift", book, *engine], 0),
        (["rebalance", book, *engine], 0),
        (["rebalance", str(f["broken"]), *engine], 1),
        (["rebalance", str(f["no_price"]), "--dry-run", "--json"], 1),
        (["harvest", book, *engine], 0),
        (["run", book, *engine], 0),
        (["optimize", str(f["strategy"]), "--prices", str(f["history"]), "--dry-run", "--json"], 0),
        (["optimize", book, *engine], 1),
        (["apply-actions", book, "--dry-run", "--json"], 0),
        (["import", book, str(BROKER_FILES / "ibkr_flex.xml"), "--dry-run", "--json"], 0),
        (["import", book, str(BROKER_FILES / "vanguard.csv"), "--map", "colour=x", "--json"], 1),
        # The demo book has not been rebalanced: no proposal to send or record (the round
        # trip's successes are in tests/brokers).
        (["export-orders", book, "--format", "ibkr", "--out", str(root / "orders"), "--json"], 1),
        (["record-fills", book, "--dry-run", "--json"], 1),
        (["recalc", book, "--out", str(root / "recalculated.xlsm"), "--json"], 0),
        (["batch", book, str(f["broken"]), "--dry-run", "--prices", prices, "--json"], 1),
        (["batch", book, "--dry-run", "--prices", prices, "--workers", "1", "--json"], 0),
        (["demo", str(root / "fresh-demo"), "--json"], 0),
        (["rebalance", book, "--no-such-option", "--json"], 2),
        (["rebalance", str(root / "missing.xlsm"), "--json"], 2),
    ]


def test_every_command_prints_one_json_document(files: dict[str, Path]):
    todo = cases(files)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda case: run(*case[0], cwd=files["root"]), todo))
    # The journal last: the runs above are in it.
    todo.append((["journal", "--last", "3", "--json"], 0))
    done.append(run("journal", "--last", "3", "--json"))
    for (args, code), result in zip(todo, done, strict=True):
        name = " ".join(args[:1] + args[-1:])
        assert result.returncode == code, (name, result.stdout[-800:], result.stderr[-800:])
        data = json.loads(result.stdout)  # exactly one document: anything else fails here
        assert isinstance(data, dict), name
        assert data["ok"] is (code == 0), name
        assert data.get("command") == args[0], (name, data.get("command"))
        assert result.stderr == b"", (name, result.stderr[-800:])
        if code:
            assert data["error"] and data["exit_code"] == code, name
            assert isinstance(data["problems"], list) and isinstance(data["warnings"], list)
        else:
            assert isinstance(data["warnings"], list), name
    by_args = {" ".join(a): json.loads(r.stdout) for (a, _), r in zip(todo, done, strict=True)}

    def doc(prefix: str) -> dict:
        return next(v for k, v in by_args.items() if k.startswith(prefix))

    # Failures name the sheet and cell the user must look at.
    invalid = doc(f"validate {files['broken']}")
    assert any(p["sheet"] == "TaxLots" and p["cell"] == "E2" for p in invalid["problems"])
    no_price = doc(f"rebalance {files['no_price']}")
    assert {(p["sheet"], p["cell"]) for p in no_price["problems"]} >= {("Holdings", "B2")}
    assert doc("rebalance")["trades"] and doc("run")["summary"]
    # Summary keys are stable snake_case names, each documented (issue 46: they were the
    # sheet's labels, "Total value before"); the Summary sheet keeps the labels.
    documented = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    summary = doc("demo")["summary"]
    for key in summary:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key) and f"| `{key}` |" in documented, key
    assert summary["total_value_after"] + summary["estimated_costs"] == pytest.approx(
        summary["total_value_before"] + summary["cash_flow"], abs=0.01
    )
    from openpyxl import load_workbook

    sheet = load_workbook(doc("demo")["output"], read_only=True)["Summary"]
    labels = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert labels["Total value before"] == summary["total_value_before"]
    assert doc("optimize")["optimized"]["weights"]
    batch = doc(f"batch {files['book']} {files['broken']}")
    assert sorted(r["status"] for r in batch["rows"]) == ["invalid", "ok"]
    assert doc("journal")["entries"], "the runs above are journaled"


def test_no_library_output_on_the_terminal(files: dict[str, Path]):
    """The real bytes of standard output and error, without --json: only our tables."""
    result = run("rebalance", str(files["book"]), "--prices", str(files["prices"]), "--dry-run")
    assert result.returncode == 0, result.stderr
    for noise in NOISE:
        assert noise.encode() not in result.stdout + result.stderr, noise
    assert result.stdout.startswith(b"Trades"), result.stdout[:200]


def test_the_solver_prints_nothing_at_the_c_level():
    """HiGHS writes its banner with C's stdio to file descriptor 1 when a solver object is
    made (highspy 1.16); a pipe makes C buffer it, so it would appear at exit if the
    redirection were undone before flushing."""
    code = (
        "from xl_rebalancer.engine.program.model import _Model\n"
        "m = _Model()\n"
        "x = m.var(cost=-1.0, hi=3.5, integer=True)\n"
        "m.row({x: 1.0}, hi=10)\n"
        "print(m.solve(relax=False)[0].tolist())\n"
    )
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == b"[3.0]\n"
    assert quiet.stderr == b""
    loud = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        timeout=60,
        env={**os.environ, "XL_REBALANCER_VERBOSE": "1"},
    )
    assert loud.stdout == b"[3.0]\n", "with --verbose the solver's log goes to stderr"
    assert b"HiGHS" in loud.stderr


@pytest.fixture
def yahoo_unreachable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No network: every HTTP request yfinance makes fails as curl does when DNS cannot
    resolve Yahoo's host (what this machine and a laptop on a plane really see)."""
    from curl_cffi.requests import Session
    from curl_cffi.requests.exceptions import DNSError

    asked: list[str] = []

    def request(self: Session, method: str, url: str, *args: object, **kwargs: object) -> None:
        asked.append(url)
        raise DNSError(
            "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"
        )

    monkeypatch.setattr(Session, "request", request)
    monkeypatch.delenv("XL_REBALANCER_OFFLINE", raising=False)
    monkeypatch.setattr("xl_rebalancer.prices.yahoo.time.sleep", lambda seconds: None)
    monkeypatch.setattr("xl_rebalancer.prices.yahoo._down_since", [])
    return asked


def test_unreachable_yahoo_is_one_line(files, tmp_path, yahoo_unreachable, capfd):
    """A book whose Prices sheet has every price: the run says once that Yahoo is
    unreachable and goes on with the sheet, printing nothing of yfinance's."""
    from xl_rebalancer.cli import main

    book = tmp_path / "book.xlsm"
    shutil.copyfile(files["book"], book)
    first = CliRunner().invoke(
        main, ["refresh-prices", str(book), "--prices", str(files["prices"])]
    )
    assert first.exit_code == 0, first.output
    capfd.readouterr()
    result = CliRunner().invoke(main, ["rebalance", str(book), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    said = [w["message"] for w in data["warnings"] if "Yahoo" in w["message"]]
    assert said == ["Yahoo unreachable: using the cache, the Prices sheet and files"]
    assert data["trades"], "the run went on with the Prices sheet"
    assert yahoo_unreachable, "Yahoo was really asked (and failed)"
    out, err = capfd.readouterr()
    for noise in NOISE:
        assert noise not in out + err, noise
    asked = len(yahoo_unreachable)
    # A second run in the same process does not knock again for a while.
    again = CliRunner().invoke(main, ["rebalance", str(book), "--dry-run", "--json"])
    assert again.exit_code == 0 and len(yahoo_unreachable) == asked


def test_offline_never_asks_yahoo_for_a_symbol_the_file_lacks(files, tmp_path, recorded_yahoo):
    """--offline with a --prices file that lacks a symbol: no network attempt, and the
    message names the file that lacked it and the cell that uses the symbol."""
    from xl_rebalancer.cli import main

    partial = tmp_path / "partial.csv"
    lines = files["prices"].read_text().splitlines()
    partial.write_text("\n".join(x for x in lines if ",VTIP," not in x) + "\n")
    result = CliRunner().invoke(
        main,
        ["rebalance", str(files["book"]), "--prices", str(partial), "--offline", "--json"],
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert recorded_yahoo == [], "an offline run asked Yahoo"
    vtip = [p for p in data["problems"] if "VTIP" in p["message"]]
    assert vtip and "partial.csv" in vtip[0]["message"] and vtip[0]["cell"]


def test_every_summary_name_is_documented():
    """docs/json.md lists every name the summary can carry (tracking error only comes
    with a covariance, so not every run shows all of them)."""
    from xl_rebalancer.engine.summary import SUMMARY_LABELS

    documented = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    for name, label in SUMMARY_LABELS.items():
        assert f"| `{name}` | {label} |" in documented, name
