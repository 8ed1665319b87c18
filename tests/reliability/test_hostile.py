"""Hostile packages: entity bombs, external entities, zip bombs, lying headers, huge sheets.

Each is a real workbook written by the project's own builder and then tampered with at
the zip level, the way an attacker would; each goes through the real command line.
"""

from __future__ import annotations

import datetime as dt
import struct
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import TWO_FUNDS, sha256
from tests.test_cli import cli
from xl_rebalancer.errors import WorkbookError
from xl_rebalancer.workbook import safety
from xl_rebalancer.workbook.reader import read_workbook

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">
<si><t>&lol9;</t></si></sst>"""


def repack(source: Path, dest: Path, parts: dict[str, bytes], **kwargs: int) -> Path:
    """Copy a package with some parts replaced or added."""
    with zipfile.ZipFile(source) as src:
        members = {n: src.read(n) for n in src.namelist()}
    members.update(parts)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, **kwargs) as out:
        for name, data in members.items():
            out.writestr(name, data)
    return dest


def with_doctype(xml: bytes, secret: Path) -> bytes:
    """The part's own XML with an external entity before its root element."""
    decl, _, rest = xml.partition(b"?>") if xml.startswith(b"<?xml") else (b"", b"", xml)
    head = decl + b"?>" if decl else b""
    dtd = f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode()
    return head + dtd + rest


@pytest.fixture
def book(two_funds_book: Path) -> Path:
    return two_funds_book


def refused(run_args: tuple[str, ...], expect: str) -> str:
    started = time.perf_counter()
    run = cli(*run_args)
    assert time.perf_counter() - started < 60
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    text = " ".join(run.stderr.split())
    assert expect in text, text
    return text


def test_billion_laughs_is_refused_before_parsing(book: Path, tmp_path: Path):
    bomb = repack(book, tmp_path / "laughs.xlsm", {"xl/sharedStrings.xml": LAUGHS})
    refused(("validate", str(bomb)), "declares a DTD")
    refused(("rebalance", str(bomb)), "declares a DTD")
    with pytest.raises(WorkbookError, match=r"sharedStrings\.xml declares a DTD"):
        read_workbook(bomb)


def test_every_part_with_an_external_entity_is_refused(book: Path, tmp_path: Path):
    """An XXE in any XML part of the package: refused, and the secret never shows."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    with zipfile.ZipFile(book) as src:
        parts = [n for n in src.namelist() if n.endswith(safety.XML_SUFFIXES)]
        originals = {n: src.read(n) for n in parts}
    assert len(parts) >= 20  # every sheet, table, style, relationship and the ribbon
    before = sha256(book)
    for index, name in enumerate(parts):
        hostile = repack(
            book, tmp_path / f"xxe{index}.xlsm", {name: with_doctype(originals[name], secret)}
        )
        with pytest.raises(WorkbookError, match="declares a DTD") as caught:
            read_workbook(hostile)
        assert name in str(caught.value) and "TOP-SECRET" not in str(caught.value)
        with pytest.raises(WorkbookError, match="declares a DTD"):
            from xl_rebalancer.workbook.writer import WorkbookEdit, save_workbook

            save_workbook(hostile, WorkbookEdit())
    text = refused(("rebalance", str(tmp_path / "xxe0.xlsm")), "declares a DTD")
    assert "TOP-SECRET" not in text
    assert sha256(book) == before


def test_a_utf16_part_with_a_dtd_is_refused(book: Path, tmp_path: Path):
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><sst/>'
    hostile = repack(book, tmp_path / "utf16.xlsm", {"xl/sharedStrings.xml": xml.encode("utf-16")})
    with pytest.raises(WorkbookError, match="declares a DTD"):
        read_workbook(hostile)


def test_a_dtd_far_into_a_part_is_found(book: Path, tmp_path: Path):
    """The marker split across the scanner's chunks is still seen."""
    pad = b"<!--" + b" " * (safety._CHUNK - 10) + b"-->"
    hostile = repack(
        book, tmp_path / "late.xlsm", {"docProps/custom.xml": pad + b"<!DOCTYPE x []><r/>"}
    )
    with pytest.raises(WorkbookError, match="declares a DTD"):
        read_workbook(hostile)


def test_zip_bomb_by_ratio_is_refused(book: Path, tmp_path: Path):
    bomb = repack(book, tmp_path / "ratio.xlsm", {"xl/media/filler.xml": b" " * (64 << 20)})
    assert bomb.stat().st_size < 1 << 20  # 64 MiB of blanks pack into a few dozen KB
    refused(("validate", str(bomb)), "looks like a zip bomb")


def _lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite a member's uncompressed size in the central directory, as a crafted file would."""
    data = bytearray(path.read_bytes())
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        name = bytes(data[at + 46 : at + 46 + name_len]).decode()
        if name == member:
            struct.pack_into("<I", data, at + 24, declared)
            break
        at += 4
    path.write_bytes(bytes(data))


def test_a_header_claiming_gigabytes_is_refused(book: Path, tmp_path: Path):
    hostile = repack(book, tmp_path / "huge.xlsm", {})
    _lie_about_size(hostile, "xl/worksheets/sheet1.xml", 0xFFFF0000)
    refused(("validate", str(hostile)), "inflates to 4,096 MiB")


def test_a_header_understating_a_part_cannot_smuggle_more(book: Path, tmp_path: Path):
    """zipfile never inflates past the declared size; the cut-off part fails its CRC."""
    hostile = repack(book, tmp_path / "short.xlsm", {})
    _lie_about_size(hostile, "xl/worksheets/sheet1.xml", 10)
    refused(("validate", str(hostile)), "is damaged")


def test_too_many_parts_is_refused(book: Path, tmp_path: Path):
    extra = {f"xl/junk/{i}.bin": b"x" for i in range(safety.MAX_MEMBERS + 1)}
    hostile = repack(book, tmp_path / "many.xlsm", extra)
    refused(("validate", str(hostile)), "parts (limit 10,000)")


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 40],
    ids=["empty", "text", "truncated-header"],
)
def test_files_that_are_not_workbooks(tmp_path: Path, content: bytes):
    path = tmp_path / "book.xlsm"
    path.write_bytes(content)
    refused(("rebalance", str(path)), "not a readable Excel workbook")


def test_a_truncated_download_is_refused(book: Path, tmp_path: Path):
    cut = tmp_path / "cut.xlsm"
    cut.write_bytes(book.read_bytes()[: book.stat().st_size // 2])
    refused(("rebalance", str(cut)), "not a readable Excel workbook")


def _lots_book(path: Path, rows: int) -> Path:
    """A TaxLots sheet of `rows` lots written in openpyxl's streaming mode."""
    wb = Workbook(write_only=True)
    for name, header, body in (
        ("Accounts", ["Account", "Type", "Cash"], [["Brokerage", "taxable", 1000.0]]),
        ("Targets", ["Symbol", "Target Weight"], [["AAA", 0.5], ["BBB", 0.5]]),
        (
            "Prices",
            ["Symbol", "Price", "As Of", "Source"],
            [
                ["AAA", 60.0, dt.date(2026, 1, 15), "manual"],
                ["BBB", 100.0, dt.date(2026, 1, 15), "manual"],
            ],
        ),
        ("Settings", ["Setting", "Value"], [["valuation_date", dt.date(2026, 1, 15)]]),
    ):
        ws = wb.create_sheet(name)
        ws.append(header)
        for row in body:
            ws.append(row)
    ws = wb.create_sheet("TaxLots")
    ws.append(["Account", "Symbol", "Lot ID", "Acquired", "Shares", "Cost Basis"])
    day = dt.date(2020, 1, 2)
    for i in range(rows):
        ws.append(["Brokerage", "AAA" if i % 2 else "BBB", f"L{i}", day, 1, 50.0])
    wb.save(path)
    return path


def test_a_100000_row_sheet_is_read_in_seconds(tmp_path: Path):
    path = _lots_book(tmp_path / "big.xlsx", 100_000)
    run = cli("validate", str(path))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "100000 lots" in run.stdout


def test_a_stray_cell_at_the_last_row_is_no_hang(book: Path, tmp_path: Path):
    from openpyxl import load_workbook

    wb = load_workbook(book, keep_vba=True)
    wb["TaxLots"]["XFD1048576"] = "note"
    path = tmp_path / "far.xlsm"
    wb.save(path)
    started = time.perf_counter()
    portfolio = read_workbook(path).portfolio
    assert time.perf_counter() - started < 30
    assert len(portfolio.lots) == len(TWO_FUNDS["TaxLots"])


def test_more_rows_than_the_limit_is_a_message(book: Path, tmp_path: Path, monkeypatch):
    from xl_rebalancer.errors import InputError
    from xl_rebalancer.workbook import rows as reader

    monkeypatch.setattr(reader, "MAX_ROWS", 2)
    with pytest.raises(InputError) as caught:
        read_workbook(book)
    assert any(
        "more than 2 filled rows" in str(p) and p.cell == "A4" for p in caught.value.problems
    )


@pytest.mark.parametrize(
    "name, data",
    [
        # UTF-16 without a byte-order mark, little and big endian
        ("xl/sharedStrings.xml", '<!DOCTYPE x [<!ENTITY a "b">]><sst/>'.encode("utf-16-le")),
        ("docProps/custom.xml", '<!DOCTYPE x [<!ENTITY a "b">]><r/>'.encode("utf-16-be")),
        # names a reader may still parse as XML (an Override can make any name XML)
        ("xl/worksheets/sheet9.bin", b'<?xml version="1.0"?><!DOCTYPE x []><worksheet/>'),
        ("customXml/item1", b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'),
        ("xl/extra.txt", b"\xef\xbb\xbf  <!DOCTYPE r []><r/>"),
    ],
)
def test_a_dtd_in_any_part_whatever_its_name_or_encoding(book: Path, tmp_path: Path, name, data):
    hostile = repack(book, tmp_path / "any.xlsm", {name: data})
    with pytest.raises(WorkbookError, match="declares a DTD"):
        read_workbook(hostile)


def test_an_svg_image_with_a_doctype_is_an_image_not_a_refusal(book: Path, tmp_path: Path):
    """SVG files often carry <!DOCTYPE svg ...>; no reader of ours parses an image."""
    svg = b'<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg/>'
    with zipfile.ZipFile(book) as src:
        types = src.read("[Content_Types].xml").replace(
            b"</Types>", b'<Default Extension="svg" ContentType="image/svg+xml"/></Types>'
        )
    fine = repack(
        book, tmp_path / "svg.xlsm", {"xl/media/image1.svg": svg, "[Content_Types].xml": types}
    )
    safety.check_package(fine)


def test_an_encrypted_workbook_and_an_old_xls_are_named_as_such(tmp_path: Path):
    """Both are Compound File Binary containers (not zips); "File is not a zip file" would
    leave the user guessing. The directory names EncryptionInfo in UTF-16 when Excel
    encrypted the package (MS-OFFCRYPTO)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    encrypted = tmp_path / "locked.xlsm"
    encrypted.write_bytes(header + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 1024)
    refused(("validate", str(encrypted)), "protected with a password")
    old = tmp_path / "old.xlsm"
    old.write_bytes(header + "Workbook".encode("utf-16-le") + b"\x00" * 1024)
    refused(("validate", str(old)), "Excel 97-2003 workbook (.xls)")
