"""LibreOffice headless for the tests: convert, recalculate on load, render pages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not found")

# Recalculate every formula when a file is loaded (OOXML and ODF), so the cached values
# LibreOffice writes back are its own results, not ours.
PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>{mode}</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode"
 oor:op="fuse"><value>{mode}</value></prop></item>
</oor:items>
"""


def convert(source: Path, fmt: str, outdir: Path, profile: Path, *, recalc: bool = True) -> Path:
    """Run `soffice --convert-to fmt` with a private profile; returns the output file.
    recalc=False opens with the cached values, as a viewer that never recalculates."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    # LibreOffice's recalc-on-load modes: 0 always, 1 never.
    (user / "registrymodifications.xcu").write_text(PROFILE.format(mode=0 if recalc else 1))
    outdir.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [
            str(SOFFICE),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    target = outdir / f"{source.stem}.{fmt.split(':')[0]}"
    assert run.returncode == 0 and target.exists(), f"LibreOffice failed: {run.stdout}{run.stderr}"
    return target


def render_png(pdf: Path, outdir: Path, dpi: int = 60) -> list[Path]:
    if shutil.which("pdftoppm") is None:
        return []
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(outdir / pdf.stem)],
        check=True,
        timeout=120,
    )
    return sorted(outdir.glob(f"{pdf.stem}*.png"))
