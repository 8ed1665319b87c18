"""Checks a workbook package must pass before any XML parser or openpyxl sees it.

A workbook is untrusted input: it may come from a client, an e-mail or a download.
Two attacks live below openpyxl, so they are refused here, on the raw zip:

* zip bombs: a few kilobytes that inflate to gigabytes. Every member's declared size
  is checked against limits on its size, the package's total and the compression
  ratio before a byte is inflated; Python's zipfile then never inflates past a
  member's declared size, so a lying header cannot get round the check.
* DTDs: entity expansion ("billion laughs", quadratic blow-up) and external entities
  (reading local files, reaching the network) all need a `<!DOCTYPE`. The Open
  Packaging Conventions forbid DTDs in every part (ECMA-376 part 2, §8.1.4), so no
  genuine workbook has one and any part with one is refused outright. This holds
  whichever parser openpyxl picked (lxml when installed, else defusedxml's).

The limits are far above any real portfolio workbook (the demo is 60 KB; 200,000 tax
lots are about 40 MB of sheet XML) and are named here so a refusal can quote them.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path

from ..errors import WorkbookError

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 1 << 30  # 1 GiB inflated, all parts together
MAX_MEMBER_BYTES = 512 << 20  # 512 MiB inflated, one part
# Sheet XML of real workbooks compresses 5-40x; an all-blank or repeated sheet may
# reach 100-200x. Zip bombs run at 1,000x and more.
MAX_RATIO = 400
RATIO_FLOOR_BYTES = 4 << 20  # small parts may compress as they like
# The parts' usual names (the tests tamper with each); the check itself reads every part.
XML_SUFFIXES = (".xml", ".rels", ".vml")
_CHUNK = 1 << 20
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_UTF16 = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def regular_file(path: Path) -> None:
    """Refuse what is not a regular file before anything opens it: a FIFO or a device
    named book.xlsm would block the first read forever."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise WorkbookError(f"{path}: no such file") from None
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        raise WorkbookError(f"{path}: is a folder, not a workbook")
    if not stat.S_ISREG(mode):
        raise WorkbookError(
            f"{path}: not a regular file (a pipe, socket or device); name the workbook file"
        )


def excel_lock_file(path: Path) -> Path | None:
    """Excel's owner file beside a workbook it has open (`~$book.xlsm`; for long names
    Excel drops the first two characters of the name), or None."""
    for name in (f"~${path.name}", f"~${path.name[2:]}"):
        candidate = path.with_name(name)
        if len(name) > 2 and candidate.exists():
            return candidate
    return None


def may_replace(source: Path, dest: Path) -> None:
    """Refuse to replace a workbook the user did not mean to be replaced (--force
    overrides): one Excel holds open (our save would be lost when Excel saves its copy,
    or Excel would keep showing the old one), one marked read-only, and a save that
    would drop the macros of a workbook only because of its name."""
    target = Path(os.path.realpath(dest))
    if target.exists():
        owner = excel_lock_file(target)
        if owner is not None:
            raise WorkbookError(
                f"{dest}: the workbook is open in Excel ({owner.name} is beside it); close "
                "it in Excel and run again (or use the ribbon's buttons in Excel). If Excel "
                "is not running, the lock file is left from a crash: pass --force"
            )
        # The mode bits too: for root (a container, a nightly job) os.access says yes.
        if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o222:
            raise WorkbookError(
                f"{dest}: the workbook is read-only (or on a read-only disk); nothing was "
                "written and the workbook is unchanged. To fix: make it writable, save "
                "elsewhere with --out PATH, or pass --force to replace it anyway"
            )
    if dest.suffix.lower() == ".xlsx" and source.exists() and _has_macros(source):
        raise WorkbookError(
            f"{dest}: the workbook holds macros (a VBA project) but the name ends in .xlsx, "
            "which cannot carry them (Excel would refuse the file or drop the ribbon's "
            "buttons); nothing was written. Rename it .xlsm and run again"
        )


def _has_macros(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith("vbaproject.bin") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def check_package(path: str | Path) -> None:
    """Refuse a file that is not a zip, is a zip bomb, or carries a DTD in any XML part.

    Raises WorkbookError with a message that names the file, the part and the limit.
    """
    path = Path(path)
    regular_file(path)
    _not_a_compound_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkbookError(
            f"{path}: not a readable Excel workbook (not an .xlsx/.xlsm package: {exc})"
        ) from exc
    with archive:
        infos = archive.infolist()
        _check_sizes(path, infos)
        # Every part, whatever its name: a part is XML because its bytes say so, and an
        # Override in [Content_Types].xml can make any name XML to a reader. Images are
        # the one exception (an SVG may carry a DOCTYPE, and no reader of ours parses one).
        images = _image_parts(path, archive, infos)
        for info in infos:
            if not info.is_dir() and info.filename not in images:
                _check_xml(path, archive, info)


# The Compound File Binary signature: an Excel 97-2003 .xls, or an OOXML workbook that was
# saved with a password (Excel then wraps the encrypted package in such a file).
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


def _not_a_compound_file(path: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(8) != _CFB:
            return
        handle.seek(0)
        encrypted = _ENCRYPTED in handle.read(64 << 20)
    if encrypted:
        raise WorkbookError(
            f"{path}: the workbook is protected with a password (encrypted), so it cannot be "
            "read without Excel: remove the password (File > Info > Protect Workbook > "
            "Encrypt with Password, clear it), save, and run again"
        )
    raise WorkbookError(
        f"{path}: an Excel 97-2003 workbook (.xls), not an .xlsx/.xlsm package: open it in "
        "Excel and save it as an Excel Macro-Enabled Workbook (.xlsm)"
    )


def _image_parts(path: Path, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> set[str]:
    """Parts whose declared content type is an image (checked first, then parsed)."""
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        return set()
    from xml.etree import ElementTree

    info = archive.getinfo("[Content_Types].xml")
    _check_xml(path, archive, info)
    try:
        root = ElementTree.fromstring(archive.read(info))
    except ElementTree.ParseError:
        return set()  # the reader will say the package is damaged
    images: set[str] = set()
    image_ext = set()
    for node in root:
        kind = node.get("ContentType", "")
        if not kind.startswith("image/"):
            continue
        if node.tag.endswith("Default"):
            image_ext.add(node.get("Extension", "").lower())
        elif node.tag.endswith("Override"):
            images.add(node.get("PartName", "").lstrip("/"))
    images |= {n for n in names if n.rsplit(".", 1)[-1].lower() in image_ext}
    return images


def _check_sizes(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise WorkbookError(
            f"{path}: refused, the package holds {len(infos):,} parts (limit {MAX_MEMBERS:,}); "
            "a workbook has a few dozen"
        )
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > MAX_MEMBER_BYTES:
            raise WorkbookError(
                f"{path}: refused, part {info.filename} inflates to {size / 2**20:,.0f} MiB "
                f"(limit {MAX_MEMBER_BYTES / 2**20:,.0f} MiB): split the workbook"
            )
        ratio = size / max(info.compress_size, 1)
        if size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise WorkbookError(
                f"{path}: refused, part {info.filename} is compressed {ratio:,.0f} to 1 "
                f"(limit {MAX_RATIO} to 1): this looks like a zip bomb, not a workbook"
            )
    if total > MAX_TOTAL_BYTES:
        raise WorkbookError(
            f"{path}: refused, the package inflates to {total / 2**20:,.0f} MiB "
            f"(limit {MAX_TOTAL_BYTES / 2**20:,.0f} MiB): split the workbook"
        )


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec a part is written in, with or without a byte-order mark."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    start = head.lstrip(b"\x00 \t\r\n")[:1]
    if start != b"<" or len(head) < 2:
        return None
    at = head.index(b"<")
    if at and head[at - 1 : at] == b"\x00":
        return "utf-16-be"
    if head[at + 1 : at + 2] == b"\x00":
        return "utf-16-le"
    return None


def _check_xml(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Stream the part once looking for a DTD; chunks overlap so a split marker is seen."""
    try:
        with archive.open(info) as member:
            head = member.read(_CHUNK)
            codec = _utf16(head)
            if not codec and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                return  # not XML (vbaProject.bin, printer settings): no parser reads it
            if codec:  # UTF-16: decode, then search
                text = (head + member.read()).decode(codec, errors="replace")
                found = _DTD_UTF16.search(text) is not None
            else:
                found = DTD.search(head) is not None
                tail = head[-16:]
                while not found:
                    chunk = member.read(_CHUNK)
                    if not chunk:
                        break
                    found = DTD.search(tail + chunk) is not None
                    tail = chunk[-16:]
    except Exception as exc:  # BadZipFile, zlib.error, an encrypted or unknown method
        raise WorkbookError(f"{path}: part {info.filename} is damaged ({exc})") from exc
    if found:
        raise WorkbookError(
            f"{path}: refused, part {info.filename} declares a DTD (<!DOCTYPE or <!ENTITY): "
            "workbooks never do, and entity tricks can exhaust memory or read local files"
        )
