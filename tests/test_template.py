"""The committed template is what the builder produces, and carries the contract."""

from __future__ import annotations

import zipfile
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import REPO
from xl_rebalancer.excel.template import TEMPLATE_NAME, build_workbook
from xl_rebalancer.models import Settings
from xl_rebalancer.workbook import schema as s
from xl_rebalancer.workbook.cells import Package


def test_committed_template_matches_the_builder(tmp_path: Path):
    fresh = build_workbook(tmp_path / TEMPLATE_NAME)
    committed = REPO / TEMPLATE_NAME
    with zipfile.ZipFile(fresh) as a, zipfile.ZipFile(committed) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), (
                f"{name} differs: run `xl-rebalancer build-template` and commit the result"
            )


def test_template_has_every_input_table_and_default():
    path = REPO / TEMPLATE_NAME
    with Package(path) as book:
        tables = book.tables()
    for spec in s.INPUT_SHEETS:
        assert [t.name for t in tables[spec.name]] == [spec.table]
    wb = load_workbook(path, keep_vba=True)
    assert wb.sheetnames[0] == s.INSTRUCTIONS
    for spec in s.INPUT_SHEETS:
        assert [c.value for c in wb[spec.name][1]] == spec.headers
    rows = {r[0]: r[1] for r in wb["Settings"].iter_rows(min_row=2, values_only=True)}
    defaults = Settings()
    for name in Settings.model_fields:
        assert rows[name] == getattr(defaults, name), name
    with zipfile.ZipFile(path) as archive:
        assert "macroEnabled.main+xml" in archive.read("[Content_Types].xml").decode()


def test_dropdowns_for_enumerations():
    wb = load_workbook(REPO / TEMPLATE_NAME, keep_vba=True)

    def lists(sheet: str) -> dict[str, str]:
        return {str(dv.sqref): dv.formula1 for dv in wb[sheet].data_validations.dataValidation}

    assert lists("Accounts")["B2:B2000"] == '"taxable,tax_deferred,tax_exempt"'
    assert lists("Constraints")["A2:A2000"] == '"symbol,asset_class,account"'
    settings_rows = {r[0].value: r[0].row for r in wb["Settings"].iter_rows(min_row=2)}
    settings_lists = lists("Settings")
    assert settings_lists[f"B{settings_rows['lot_method']}"] == '"min_tax,hifo,fifo,lifo,average"'
    assert "hrp" in settings_lists[f"B{settings_rows['strategy']}"]
    assert settings_lists[f"B{settings_rows['whole_shares']}"] == '"TRUE,FALSE"'
