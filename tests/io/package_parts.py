"""Add to a workbook package the parts a user's Excel leaves there and openpyxl cannot
keep: a picture, a pivot table with its cache, a data connection, a custom XML item, and
a large sheet of numbers. Written as Excel lays them out (ECMA-376 Part 1: 20.5 drawing
pictures, 18.10 pivot tables, 18.13 connections), straight into the zip, so the
test sees what a run does to parts it has never modelled."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument"


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG (red pixels), made here: the machine has no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


DRAWING = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" \
xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><xdr:oneCellAnchor>\
<xdr:from><xdr:col>3</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row>\
<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="952500" cy="714375"/><xdr:pic>\
<xdr:nvPicPr><xdr:cNvPr id="2" name="Picture 1" descr="household logo"/><xdr:cNvPicPr>\
<a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr><xdr:blipFill>\
<a:blip xmlns:r="{NS_R}" r:embed="rId1"/><a:stretch><a:fillRect/></a:stretch>\
</xdr:blipFill><xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="714375"/>\
</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic>\
<xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>"""

CACHE = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<pivotCacheDefinition xmlns="{NS_MAIN}" xmlns:r="{NS_R}" r:id="rId1" refreshOnLoad="1" \
createdVersion="6" refreshedVersion="6" minRefreshableVersion="3" recordCount="2">\
<cacheSource type="worksheet"><worksheetSource ref="A1:B3" sheet="Notes"/></cacheSource>\
<cacheFields count="2"><cacheField name="Owner" numFmtId="0"><sharedItems count="2">\
<s v="Ann"/><s v="Bob"/></sharedItems></cacheField><cacheField name="Amount" numFmtId="0">\
<sharedItems containsSemiMixedTypes="0" containsString="0" containsNumber="1" \
containsInteger="1" minValue="10" maxValue="20"/></cacheField></cacheFields>\
</pivotCacheDefinition>"""

RECORDS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<pivotCacheRecords xmlns="{NS_MAIN}" count="2"><r><x v="0"/><n v="10"/></r>\
<r><x v="1"/><n v="20"/></r></pivotCacheRecords>"""

PIVOT = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<pivotTableDefinition xmlns="{NS_MAIN}" name="OwnerTotals" cacheId="7" \
applyNumberFormats="0" applyBorderFormats="0" applyFontFormats="0" applyPatternFormats="0" \
applyAlignmentFormats="0" applyWidthHeightFormats="1" dataCaption="Values" \
updatedVersion="6" minRefreshableVersion="3" createdVersion="6" indent="0" \
outline="1" outlineData="1"><location ref="F2:G5" firstHeaderRow="1" firstDataRow="1" \
firstDataCol="1"/><pivotFields count="2"><pivotField axis="axisRow" showAll="0">\
<items count="3"><item x="0"/><item x="1"/><item t="default"/></items></pivotField>\
<pivotField dataField="1" showAll="0"/></pivotFields><rowFields count="1"><field x="0"/>\
</rowFields><rowItems count="3"><i><x/></i><i><x v="1"/></i><i t="grand"><x/></i></rowItems>\
<colItems count="1"><i/></colItems><dataFields count="1"><dataField name="Sum of Amount" \
fld="1" baseField="0" baseItem="0"/></dataFields></pivotTableDefinition>"""

CONNECTIONS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<connections xmlns="{NS_MAIN}"><connection id="1" name="Custodian feed" type="6" \
refreshedVersion="6" background="1" saveData="1"><textPr codePage="65001" \
sourceFile="C:\\Data\\custodian.csv" delimited="1" comma="1"><textFields count="1">\
<textField/></textFields></textPr></connection></connections>"""

CUSTOM_XML = b'<?xml version="1.0" encoding="UTF-8"?><household xmlns="urn:example:crm" id="42"/>'

NOTES_SHEET = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_R}"><sheetPr codeName="NotesSheet"/><sheetViews><sheetView workbookViewId="0"/>\
</sheetViews><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Owner</t></is></c>\
<c r="B1" t="inlineStr"><is><t>Amount</t></is></c><c r="F2" t="inlineStr"><is>\
<t>Row Labels</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Ann</t></is>\
</c><c r="B2"><v>10</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>Bob</t></is>\
</c><c r="B3"><v>20</v></c></row></sheetData><drawing r:id="rIdPic"/></worksheet>"""


def _add_before(text: str, closing: str, addition: str) -> str:
    at = text.rindex(closing)
    return text[:at] + addition + text[at:]


def add_user_parts(book: Path) -> list[str]:
    """Give `book` a Notes sheet with a picture and a pivot table, a data connection and
    a custom XML item. Returns the names of the parts added."""
    with zipfile.ZipFile(book) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    added = {
        "xl/worksheets/sheetNotes.xml": NOTES_SHEET.encode(),
        "xl/worksheets/_rels/sheetNotes.xml.rels": _rels(
            ("rIdPic", f"{REL}/drawing", "../drawings/drawingNotes.xml"),
            ("rIdPivot", f"{REL}/pivotTable", "../pivotTables/pivotTable1.xml"),
        ),
        "xl/drawings/drawingNotes.xml": DRAWING.encode(),
        "xl/drawings/_rels/drawingNotes.xml.rels": _rels(
            ("rId1", f"{REL}/image", "../media/logo.png")
        ),
        "xl/media/logo.png": png(),
        "xl/pivotTables/pivotTable1.xml": PIVOT.encode(),
        "xl/pivotTables/_rels/pivotTable1.xml.rels": _rels(
            ("rId1", f"{REL}/pivotCacheDefinition", "../pivotCache/pivotCacheDefinition1.xml")
        ),
        "xl/pivotCache/pivotCacheDefinition1.xml": CACHE.encode(),
        "xl/pivotCache/_rels/pivotCacheDefinition1.xml.rels": _rels(
            ("rId1", f"{REL}/pivotCacheRecords", "pivotCacheRecords1.xml")
        ),
        "xl/pivotCache/pivotCacheRecords1.xml": RECORDS.encode(),
        "xl/connections.xml": CONNECTIONS.encode(),
        "customXml/item1.xml": CUSTOM_XML,
    }
    members.update(added)
    types = members["[Content_Types].xml"].decode()
    if 'Extension="png"' not in types:
        at = types.index("<Override")
        types = types[:at] + '<Default Extension="png" ContentType="image/png"/>' + types[at:]
    for part, kind in (
        ("xl/worksheets/sheetNotes.xml", f"{CT}.spreadsheetml.worksheet+xml"),
        ("xl/drawings/drawingNotes.xml", f"{CT}.drawing+xml"),
        ("xl/pivotTables/pivotTable1.xml", f"{CT}.spreadsheetml.pivotTable+xml"),
        ("xl/pivotCache/pivotCacheDefinition1.xml", f"{CT}.spreadsheetml.pivotCacheDefinition+xml"),
        ("xl/pivotCache/pivotCacheRecords1.xml", f"{CT}.spreadsheetml.pivotCacheRecords+xml"),
        ("xl/connections.xml", f"{CT}.spreadsheetml.connections+xml"),
    ):
        types = _add_before(
            types, "</Types>", f'<Override PartName="/{part}" ContentType="{kind}"/>'
        )
    members["[Content_Types].xml"] = types.encode()
    rels = members["xl/_rels/workbook.xml.rels"].decode()
    rels = _add_before(
        rels,
        "</Relationships>",
        f'<Relationship Id="rIdNotes" Type="{REL}/worksheet" Target="worksheets/sheetNotes.xml"/>'
        f'<Relationship Id="rIdCache" Type="{REL}/pivotCacheDefinition" '
        'Target="pivotCache/pivotCacheDefinition1.xml"/>'
        f'<Relationship Id="rIdConn" Type="{REL}/connections" Target="connections.xml"/>',
    )
    members["xl/_rels/workbook.xml.rels"] = rels.encode()
    root = members["_rels/.rels"].decode()
    members["_rels/.rels"] = _add_before(
        root,
        "</Relationships>",
        f'<Relationship Id="rIdCustom" Type="{REL}/customXml" Target="customXml/item1.xml"/>',
    ).encode()
    workbook = members["xl/workbook.xml"].decode()
    ids = [int(i) for i in re.findall(r'sheetId="(\d+)"', workbook)]
    workbook = _add_before(
        workbook,
        "</sheets>",
        f'<sheet xmlns:r="{NS_R}" name="Notes" sheetId="{max(ids) + 1}" r:id="rIdNotes"/>',
    )
    caches = (
        f'<pivotCaches><pivotCache xmlns:r="{NS_R}" cacheId="7" r:id="rIdCache"/></pivotCaches>'
    )
    workbook = _add_before(workbook, "</workbook>", caches)
    members["xl/workbook.xml"] = workbook.encode()
    _write(book, members)
    return list(added)


def _rels(*rels: tuple[str, str, str]) -> bytes:
    body = "".join(f'<Relationship Id="{i}" Type="{t}" Target="{g}"/>' for i, t, g in rels)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{body}</Relationships>"
    ).encode()


def _write(book: Path, members: dict[str, bytes]) -> None:
    tmp = book.with_name(book.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members.items():
            out.writestr(name, data)
    tmp.replace(book)


def _number_rows(rows: int, cols: int) -> Iterator[bytes]:
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c + 1) for c in range(cols)]
    for r in range(1, rows + 1):
        cells = "".join(f'<c r="{letters[c]}{r}"><v>{r * 0.25 + c}</v></c>' for c in range(cols))
        yield f'<row r="{r}">{cells}</row>'.encode()


def add_number_sheet(book: Path, title: str, rows: int, cols: int) -> str:
    """A user sheet of rows x cols numbers, streamed into the package (a 100,000 x 100
    sheet is about 37 MB zipped), with the dimension record Excel, LibreOffice and
    openpyxl write (without one, openpyxl's reader parses the whole sheet to size it).
    Returns its part name."""
    from openpyxl.utils import get_column_letter

    part = "xl/worksheets/sheetData1.xml"
    last = get_column_letter(cols)  # the dimension record Excel writes first
    tmp = book.with_name(book.name + ".tmp")
    with (
        zipfile.ZipFile(book) as archive,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out,
    ):
        for info in archive.infolist():
            data = archive.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = _add_before(
                    data.decode(),
                    "</Types>",
                    f'<Override PartName="/{part}" '
                    f'ContentType="{CT}.spreadsheetml.worksheet+xml"/>',
                ).encode()
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = _add_before(
                    data.decode(),
                    "</Relationships>",
                    f'<Relationship Id="rIdData" Type="{REL}/worksheet" '
                    'Target="worksheets/sheetData1.xml"/>',
                ).encode()
            elif info.filename == "xl/workbook.xml":
                text = data.decode()
                ids = [int(i) for i in re.findall(r'sheetId="(\d+)"', text)]
                data = _add_before(
                    text,
                    "</sheets>",
                    f'<sheet xmlns:r="{NS_R}" name="{title}" sheetId="{max(ids) + 1}" '
                    'r:id="rIdData"/>',
                ).encode()
            out.writestr(info.filename, data)
        info = zipfile.ZipInfo(part, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=True) as sheet:
            sheet.write(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{NS_MAIN}">'
                f'<sheetPr codeName="DataSheet"/><dimension ref="A1:{last}{rows}"/>'
                "<sheetData>".encode()
            )
            block = []
            for row in _number_rows(rows, cols):
                block.append(row)
                if len(block) == 500:
                    sheet.write(b"".join(block))
                    block = []
            sheet.write(b"".join(block) + b"</sheetData></worksheet>")
    tmp.replace(book)
    return part
