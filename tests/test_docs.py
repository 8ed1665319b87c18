"""The documentation the code writes is the code's: the workbook contract and the
README's pictures are current (`make docs` brings them up to date)."""

from __future__ import annotations

import importlib.util
import re

from tests.conftest import REPO


def _build() -> object:
    spec = importlib.util.spec_from_file_location("docs_build", REPO / "docs" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contract_and_pictures_are_current():
    build = _build()
    assert build.stale() == []  # type: ignore[attr-defined]


def test_contract_names_every_sheet_column_setting_and_command():
    from click import Context

    from xl_rebalancer.cli import main
    from xl_rebalancer.models.inputs import Settings
    from xl_rebalancer.workbook import schema as s

    text = (REPO / "docs" / "workbook.md").read_text(encoding="utf-8")
    for spec in (*s.INPUT_SHEETS, *s.OUTPUT_SHEETS):
        assert f"### {spec.name}\n" in text
        for col in spec.columns:
            assert col.description, f"{spec.name}.{col.header} has no meaning"
            assert f"| `{col.header}` |" in text
    for name in Settings.model_fields:
        assert f"| `{name}` |" in text
    for name in main.list_commands(Context(main)):
        assert re.search(rf"\| `{re.escape(name)}[ `]", text), name


def test_readme_points_at_the_projects_own_contract_and_pictures():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    assert "docs/workbook.md" in readme
    for picture in re.findall(r"\]\((docs/images/[^)]+)\)", readme):
        assert (REPO / picture).exists(), picture
    assert "docs/images/report.png" in readme
    # The reference moved to docs/ pages (issue 46): every page and picture linked exists.
    assert len(readme.splitlines()) < 400
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / page).exists(), page
    for page in (REPO / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)[)#]", text):
            assert (page.parent / target).exists(), (page.name, target)


def test_the_suite_benchmarks_and_makefile_need_nothing_outside_the_repository():
    """A fresh clone's `make test` runs every test: the peer price data the strategy tests
    compare against live in tests/data/reference, not in a sibling directory (issue 46)."""
    places = [REPO / "Makefile", *REPO.glob("tests/**/*.py"), *REPO.glob("benchmarks/*.py")]
    readers = [
        p.relative_to(REPO).as_posix()
        for p in places
        if p.name != "test_docs.py"
        and re.search(r"\.\./shared|\"shared\" / \"data\"|XL_REBALANCER_REFERENCE", p.read_text())
    ]
    assert readers == []
    for name in ("pypfopt_stock_prices.csv", "skfolio_sp500_dataset.csv", "README.md"):
        assert (REPO / "tests" / "data" / "reference" / name).is_file()
