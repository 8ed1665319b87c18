"""A real package (issue 19): `python -m build` makes an sdist and a wheel that carry the
template, the VBA sources and the worksheet-function module; `twine check` passes; the
wheel installs from the lock into a clean virtual environment on the lowest Python we
claim and on the newest (3.13), and `xl-rebalancer demo` runs there with the same trades.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOWEST = tuple(int(x) for x in PYPROJECT["project"]["requires-python"].lstrip(">=").split("."))
NEWEST = (3, 13)


def interpreter(version: tuple[int, int]) -> str | None:
    """A working python of that version: this one, one on PATH, or one of pyenv's."""
    if sys.version_info[:2] == version:
        return sys.executable
    name = f"python{version[0]}.{version[1]}"
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [shutil.which(name), *sorted(glob.glob(f"{root}/versions/{name[6:]}*/bin/{name}"))]
    for found in filter(None, candidates):
        probe = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(version):
            return found
    return None


def tracked_tree(target: Path) -> Path:
    """The files a clean clone has (tracked and new, not ignored), without the venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    source = tracked_tree(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    # No isolation: setuptools and wheel come from the locked environment the tests run in.
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # No packaging warning (issue 46: every install printed setuptools' 70-line
    # "Package 'xl_rebalancer.excel.vba' is absent from the packages configuration").
    assert "Warning" not in built.stdout + built.stderr, built.stdout + built.stderr
    return out


def test_the_sdist_and_wheel_carry_what_excel_needs(dist: Path):
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        bundled = z.read("xl_rebalancer/_bundled/workbook_template.xlsm")
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert bundled == (REPO / "workbook_template.xlsm").read_bytes()
    vba = {p.name for p in (REPO / "xl_rebalancer" / "excel" / "vba").rglob("*") if p.is_file()}
    shipped = {n.rsplit("/", 1)[-1] for n in names if "/excel/vba/" in n}
    assert vba <= shipped, vba - shipped
    assert "xlrebalancer_udfs.py" in names
    assert f"Requires-Python: >={'.'.join(map(str, LOWEST))}" in metadata
    # Every package of the source tree is listed in pyproject (they are not found), the
    # data-only folders (the VBA sources) too.
    packages = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "xl_rebalancer").rglob("*")
        if p.is_file() and p.parent.name != "__pycache__"
    }
    assert packages | {"xl_rebalancer._bundled"} == set(PYPROJECT["tool"]["setuptools"]["packages"])
    with tarfile.open(sdist) as t:
        inside = {n.split("/", 1)[-1] for n in t.getnames()}
    assert {"workbook_template.xlsm", "udfs/xlrebalancer_udfs.py", "pyproject.toml"} <= inside
    assert {
        f"xl_rebalancer/excel/vba/{n}" for n in ("XlRebalancer.bas", "customUI14.xml")
    } <= inside


def install_and_run_demo(python: str, wheel: Path, work: Path) -> dict:
    venv = work / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    # The lock constrains sdists' build requirements too (PIP_CONSTRAINT reaches them).
    env = {**os.environ, "PIP_CONSTRAINT": str(LOCK), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    run = subprocess.run(
        [str(bin_dir / "xl-rebalancer"), "demo", str(work / "demo"), "--json"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == "", run.stderr[-3000:]
    init = subprocess.run(
        [str(bin_dir / "xl-rebalancer"), "init", str(work / "mine.xlsm")],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    assert (work / "mine.xlsm").read_bytes() == (REPO / "workbook_template.xlsm").read_bytes()
    udfs = subprocess.run(
        [str(bin_dir / "python"), "-c", "import xlrebalancer_udfs as u; print(u.__file__)"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )
    assert udfs.returncode == 0 and "site-packages" in udfs.stdout, udfs.stderr
    return json.loads(run.stdout)


def test_the_wheel_runs_the_demo_on_the_lowest_and_newest_python(dist: Path, tmp_path: Path):
    wheel = next(dist.glob("*.whl"))
    versions = {LOWEST: interpreter(LOWEST), NEWEST: interpreter(NEWEST)}
    missing = [v for v, python in versions.items() if python is None]
    if missing:
        pytest.skip(f"no Python {', '.join('.'.join(map(str, v)) for v in missing)} here")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            v: pool.submit(install_and_run_demo, python, wheel, tmp_path / f"py{v[0]}{v[1]}")
            for v, python in versions.items()
        }
        results = {v: f.result() for v, f in futures.items()}
    low, new = results[LOWEST], results[NEWEST]
    assert low["ok"] and low["trades"]
    trades = [(t["account"], t["symbol"], t["action"], t["shares"]) for t in low["trades"]]
    assert trades == [(t["account"], t["symbol"], t["action"], t["shares"]) for t in new["trades"]]
    assert low["summary"]["estimated_tax"] == pytest.approx(new["summary"]["estimated_tax"])
