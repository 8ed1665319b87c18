"""`xl-rebalancer batch`: many real workbooks in worker processes and on a Dask cluster."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests.conftest import sha256
from xl_rebalancer.app import run_engine
from xl_rebalancer.batch import (
    BatchOptions,
    _map_processes,
    collect_workbooks,
    output_paths,
    run_batch,
)
from xl_rebalancer.batch_report import BatchResult, BatchRow, write_reports
from xl_rebalancer.cli import main
from xl_rebalancer.demo import write_clients
from xl_rebalancer.door import RunOptions

CLIENTS = 24


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A few dozen generated clients (the demo's funds, 30 lots each), one made invalid
    (text in a number cell) and one that is not a workbook at all."""
    folder = tmp_path_factory.mktemp("clients")
    books, prices = write_clients(folder / "books", CLIENTS, holdings=12, lots=30)
    wb = load_workbook(books[4], keep_vba=True)
    wb["TaxLots"]["E3"] = "ten"
    wb.save(books[4])
    (folder / "books" / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    return folder / "books", prices


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "books"
    shutil.copytree(folder, target)
    return target


def read_report(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sheet_values(path: Path, title: str) -> list[tuple]:
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        return [tuple(r) for r in wb[title].iter_rows(values_only=True)]
    finally:
        wb.close()


def test_a_few_dozen_workbooks_with_a_broken_one(clients, tmp_path):
    books, prices = clients
    before = {p.name: sha256(p) for p in books.glob("*.xls*")}
    out, report = tmp_path / "out", tmp_path / "report"
    result = CliRunner().invoke(
        main,
        [
            "batch",
            str(books),
            str(tmp_path / "nowhere.xlsm"),
            "--command",
            "rebalance",
            "--prices",
            str(prices),
            "--out",
            str(out),
            "--report",
            str(report),
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    rows = {Path(r["workbook"]).name: r for r in read_report(report.with_suffix(".csv"))}
    assert len(rows) == CLIENTS + 2
    assert rows["broken.xlsx"]["status"] == "error"
    assert "not a readable Excel workbook" in rows["broken.xlsx"]["message"]
    assert rows["nowhere.xlsm"]["status"] == "error"
    assert rows["client-0005.xlsm"]["status"] == "invalid"
    assert rows["client-0005.xlsm"]["message"].startswith("TaxLots!E3: Shares: expected a number")
    good = [
        r
        for name, r in rows.items()
        if name not in {"broken.xlsx", "nowhere.xlsm", "client-0005.xlsm"}
    ]
    assert len(good) == CLIENTS - 1
    failed = [r for r in good if r["status"] != "ok" or int(r["trades"]) == 0]
    assert not failed, failed
    assert all((out / Path(r["workbook"]).name).exists() for r in good)
    assert not (out / "client-0005.xlsm").exists() and not (out / "broken.xlsx").exists()
    assert before == {p.name: sha256(p) for p in books.glob("*.xls*")}, "inputs untouched"
    # The JSON has every problem with its cell; the table says what failed.
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["workbooks"] == CLIENTS + 2 and data["failed"] == 3
    invalid = next(r for r in data["rows"] if r["workbook"].endswith("client-0005.xlsm"))
    assert {"level": "error", "sheet": "TaxLots", "cell": "E3"}.items() <= invalid["problems"][
        0
    ].items()
    text = " ".join(result.output.split())
    assert "26 workbooks: 23 ok, 3 failed;" in text, text[-400:]
    assert re.search(r"client-0005\.xlsm │ invalid │", text)

    # Each output is what `xl-rebalancer rebalance` gives for that workbook alone.
    sample = books / "client-0012.xlsm"
    alone = run_engine(sample, "rebalance", RunOptions(prices_file=prices, dry_run=True))
    row = rows["client-0012.xlsm"]
    assert int(row["trades"]) == len(alone.result.trades)
    assert float(row["estimated_tax"]) == alone.result.summary_value("Estimated tax")
    trades = sheet_values(out / "client-0012.xlsm", "Trades")
    assert len(trades) - 1 == len(alone.result.trades)
    assert [(t[0], t[1], t[2], t[3]) for t in trades[1:]] == [
        (t.account, t.symbol, t.action, t.shares) for t in alone.result.trades
    ]


def test_dask_gives_the_same_outputs_as_local_processes(clients, tmp_path):
    distributed = pytest.importorskip("distributed")
    books, prices = clients
    picked = [books / f"client-{i:04d}.xlsm" for i in (1, 2, 3, 5, 6)] + [books / "broken.xlsx"]
    run = RunOptions(prices_file=prices)
    local = run_batch(picked, BatchOptions("rebalance", run, out_dir=tmp_path / "local", workers=2))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = run_batch(
            picked,
            BatchOptions(
                "rebalance", run, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address
            ),
        )
    timing = {
        "seconds",
        "read_seconds",
        "prices_seconds",
        "solve_seconds",
        "write_seconds",
        "output",
    }
    assert [r.model_dump(exclude=timing) for r in remote.rows] == [
        r.model_dump(exclude=timing) for r in local.rows
    ]
    assert [r.status for r in remote.rows] == ["ok", "ok", "ok", "invalid", "ok", "error"]
    for name in ("client-0001.xlsm", "client-0006.xlsm"):
        for title in ("Trades", "Drift", "TaxHarvest"):
            assert sheet_values(tmp_path / "dask" / name, title) == sheet_values(
                tmp_path / "local" / name, title
            )


def test_prices_are_fetched_once_for_the_union_of_symbols(recorded_yahoo, tmp_path):
    from tests.conftest import write_book

    cache = tmp_path / "prices.sqlite"
    settings = {"valuation_date": "2020-09-04", "price_source": "auto"}
    (tmp_path / "books").mkdir()
    for name, symbols in (("a", ["AAPL", "MSFT"]), ("b", ["MSFT"]), ("c", ["AAPL"])):
        write_book(
            tmp_path / "books" / f"{name}.xlsx",
            {
                "Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 500.0}],
                "Holdings": [{"account": "Brokerage", "symbol": s, "shares": 10} for s in symbols],
                "Targets": [{"symbol": s, "target_weight": 1 / len(symbols)} for s in symbols],
            },
            settings,
        )
    result = run_batch(
        [tmp_path / "books"],
        BatchOptions("run", RunOptions(cache=cache), workers=2, out_dir=tmp_path / "out"),
    )
    assert [r.status for r in result.rows] == ["ok", "ok", "ok"], result.rows
    asked = sorted(ticker for ticker, _ in recorded_yahoo)
    assert asked == ["AAPL", "MSFT"], "one request per symbol for the whole batch"
    prices = {r[0]: r[1] for r in sheet_values(tmp_path / "out" / "a.xlsx", "Prices")[1:]}
    assert prices == {"AAPL": pytest.approx(120.96), "MSFT": pytest.approx(214.25)}


def _dies_on_bad(path: Path) -> BatchRow:
    """A workbook run whose process dies outright, as a crash in native code would."""
    if path.name == "bad.xlsx":
        os._exit(3)
    return BatchRow(workbook=str(path), status="ok")


def test_a_worker_process_that_dies_marks_only_its_workbook(tmp_path):
    paths = [tmp_path / f"{name}.xlsx" for name in ("a", "b", "bad", "c", "d")]
    from xl_rebalancer.batch import _died

    out = _map_processes(_dies_on_bad, paths, 2, lambda p: (), None, _died)
    assert {p.name: r.status for p, r in out.items()} == {
        "a.xlsx": "ok",
        "b.xlsx": "ok",
        "bad.xlsx": "crashed",
        "c.xlsx": "ok",
        "d.xlsx": "ok",
    }
    assert "worker process running it died" in out[tmp_path / "bad.xlsx"].message


def test_collecting_files_folders_and_globs(tmp_path):
    for name in (
        "a/one.xlsx",
        "a/deeper/two.xlsm",
        "a/~$one.xlsx",
        "a/.~one.tmp.xlsx",
        "a/one.before-actions-20261120-101500.xlsx",
        "a/.hidden/three.xlsx",
        "a/notes.txt",
        "b/one.xlsx",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found, missing = collect_workbooks(
        [tmp_path / "a", str(tmp_path / "b" / "*.xls*"), tmp_path / "a" / "one.xlsx", "gone.xlsx"]
    )
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/deeper/two.xlsm",
        "a/one.xlsx",
        "b/one.xlsx",
    ]
    assert [(r.workbook, r.status, r.message) for r in missing] == [
        ("gone.xlsx", "error", "no such file")
    ]
    outs = output_paths(found, tmp_path / "out")
    assert [outs[p].relative_to(tmp_path).as_posix() for p in found] == [
        "out/a/deeper/two.xlsm",
        "out/a/one.xlsx",
        "out/b/one.xlsx",
    ], "two clients' one.xlsx do not collide"


def test_dry_run_saves_nothing(clients, tmp_path):
    books, prices = clients
    folder = copy_of(books, tmp_path)
    before = {p.name: sha256(p) for p in folder.iterdir()}
    result = run_batch(
        [folder / "client-0001.xlsm", folder / "client-0002.xlsm"],
        BatchOptions("rebalance", RunOptions(prices_file=prices, dry_run=True), workers=1),
    )
    assert [r.status for r in result.rows] == ["ok", "ok"]
    assert all(r.output is None and r.trades for r in result.rows)
    assert before == {p.name: sha256(p) for p in folder.iterdir()}


def test_report_text_never_becomes_a_formula(tmp_path):
    result = BatchResult(
        rows=[BatchRow(workbook='=HYPERLINK("http://x")', status="error", message="+1")]
    )
    files = write_reports(result, tmp_path / "report")
    row = read_report(files.csv)[0]
    assert row["workbook"] == '\'=HYPERLINK("http://x")' and row["message"] == "'+1"
    # Nor in the review workbook: no cell of it is a formula.
    wb = load_workbook(files.xlsx)
    assert not [c for ws in wb for r in ws.iter_rows() for c in r if c.data_type == "f"]


def test_same_trades_whatever_the_hash_seed(clients, tmp_path):
    """Worker processes each draw their own string-hash seed; a set's order once reached
    the solver's bounds (last-bit sums) and gave another trade list in another process."""
    import subprocess
    import sys

    books, prices = clients
    outputs = set()
    for seed in ("4", "5", "8", "13"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "xl_rebalancer",
                "rebalance",
                str(books / "client-0011.xlsm"),
                "--prices",
                str(prices),
                "--dry-run",
                "--json",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        data = json.loads(done.stdout)
        outputs.add(json.dumps([data["trades"], data["summary"]["estimated_tax"]], sort_keys=True))
    assert len(outputs) == 1


def test_demo_writes_clients_and_runs_the_batch(tmp_path):
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "clients"), "--clients", "3"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 workbooks: 3 ok, 0 failed" in text
    for i in (1, 2, 3):
        trades = sheet_values(tmp_path / "clients" / f"client-{i:04d}.xlsm", "Trades")
        assert len(trades) > 1


def test_an_unreachable_scheduler_is_a_message_not_a_traceback(clients, monkeypatch):
    import xl_rebalancer.batch as batch

    monkeypatch.setattr(batch, "CONNECT_SECONDS", 1)
    books, prices = clients
    result = CliRunner().invoke(
        main,
        [
            "batch",
            str(books / "client-0001.xlsm"),
            "--prices",
            str(prices),
            "--dry-run",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_off_a_terminal_each_finished_workbook_is_a_line_in_the_log(tmp_path):
    """A nightly cron job's log got nothing until the end (the progress bar is drawn only
    on a terminal): now a line per workbook as it finishes, failures with their reason."""
    import subprocess
    import sys

    books, prices = write_clients(tmp_path / "books", 3, holdings=12, lots=4)
    wb = load_workbook(books[1], keep_vba=True)
    wb["TaxLots"]["E3"] = "ten"
    wb.save(books[1])
    done = subprocess.run(
        [
            *(sys.executable, "-m", "xl_rebalancer", "batch", str(tmp_path / "books")),
            *("--prices", str(prices), "--dry-run", "--workers", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1  # one client failed
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 3, done.stderr
    assert sorted(line.split("]")[0] for line in lines) == ["[1/3", "[2/3", "[3/3"]
    failed = [line for line in lines if books[1].name in line]
    assert len(failed) == 1 and " invalid " in failed[0] and "TaxLots!E3" in failed[0]
    ok = [line for line in lines if line not in failed]
    assert all(" ok " in line and "trade" in line for line in ok), ok


def test_the_morning_review_says_per_client_what_a_firm_reads(tmp_path):
    """REPORT.csv said only the largest drift: now per client whether the bands
    triggered and which lines were out, the household's value and cash flow, buys,
    sells, turnover, realized gains, tax and warnings; a failure names its cell (the
    CSV dropped it, only the JSON had it)."""
    import csv

    from click.testing import CliRunner

    from xl_rebalancer.cli import main

    books, prices = write_clients(tmp_path / "books", 3, holdings=12, lots=4)
    wb = load_workbook(books[1], keep_vba=True)
    wb["TaxLots"]["E3"] = "ten"
    wb.save(books[1])
    report = tmp_path / "REPORT"
    args = ["batch", str(tmp_path / "books"), "--prices", str(prices), "--dry-run"]
    CliRunner().invoke(main, [*args, "--workers", "1", "--report", str(report)])
    with open(f"{report}.csv", encoding="utf-8") as handle:
        rows = {Path(r["workbook"]).name: r for r in csv.DictReader(handle)}
    broken = rows[books[1].name]
    assert broken["status"] == "invalid" and broken["where"] == "TaxLots!E3"
    for name in (books[0].name, books[2].name):
        row = rows[name]
        assert row["status"] == "ok" and row["triggered"] in ("True", "False")
        assert float(row["household_value"]) > 0 and row["cash_flow"] != ""
        assert float(row["buys"]) >= 0 and float(row["sells"]) >= 0
        assert row["realized_st"] != "" and row["realized_lt"] != ""
        if row["triggered"] == "True":
            assert row["out_of_band"], row


def test_validate_with_a_price_file_sees_the_price_the_run_would_miss(tmp_path):
    """`batch --command validate --prices FILE` passed a client whose fund the file does
    not price; that night's run failed on it. Validate now prices as the run will."""
    from click.testing import CliRunner

    from xl_rebalancer.cli import main

    books, prices = write_clients(tmp_path / "books", 2, holdings=12, lots=4)
    lines = prices.read_text().splitlines()
    without = tmp_path / "without_vti.csv"
    without.write_text("\n".join(line for line in lines if ",VTI," not in line) + "\n")
    one = CliRunner().invoke(main, ["validate", str(books[0]), "--prices", str(without), "--json"])
    assert one.exit_code == 1
    problems = json.loads(one.stdout)["problems"]
    assert any("no price for VTI" in p["message"] and p["sheet"] for p in problems)
    whole = CliRunner().invoke(main, ["validate", str(books[0]), "--prices", str(prices)])
    assert whole.exit_code == 0
    args = ["batch", str(tmp_path / "books"), "--command", "validate", "--prices", str(without)]
    batch = CliRunner().invoke(main, [*args, "--report", str(tmp_path / "REPORT")])
    assert batch.exit_code == 1
