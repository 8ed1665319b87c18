"""Compile VBA source files into an Excel `vbaProject.bin`, source only, no p-code.

Excel stores a workbook's macros as a compound file (MS-CFB) whose module streams
hold the source in MS-OVBA "compressed containers". A project written with the
performance cache marked invalid (`_VBA_PROJECT` version 0xFFFF, MS-OVBA 2.3.4.1) is
compiled by Excel from source when it opens, which is how xlwings ships its own
standalone quickstart workbook. Writing it here (rather than with the PyPI `ms-ovba`
package, whose copy tokens break modules longer than a few hundred bytes) keeps the
template buildable on Linux from the `.bas` files in the repository; the tests read
every module back with oletools' `olevba` and compare it byte for byte.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

# --- MS-OVBA 2.4.1: compression ------------------------------------------------------

CHUNK = 4096


def _copy_token_help(offset_in_chunk: int) -> tuple[int, int]:
    """(bit count of the offset, maximum match length) at a position in a chunk."""
    bit_count = max((offset_in_chunk - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(data: bytes) -> bytes:
    """One chunk of at most 4096 bytes, as the spec's CompressedChunk (header included)."""
    out = bytearray()
    pos, end = 0, len(data)
    heads: dict[bytes, list[int]] = {}  # 3-byte prefix -> earlier positions in this chunk
    while pos < end:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= end:
                break
            best_len, best_off = 0, 0
            if pos >= 1 and pos + 3 <= end:
                bit_count, max_len = _copy_token_help(pos)
                limit = min(max_len, end - pos)
                for cand in reversed(heads.get(data[pos : pos + 3], ())):
                    length = 3
                    while length < limit and data[cand + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, pos - cand
                        if length == limit:
                            break
            if best_len >= 3:
                bit_count, _ = _copy_token_help(pos)
                token = ((best_off - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                step = best_len
            else:
                out.append(data[pos])
                step = 1
            for i in range(pos, min(pos + step, end - 2)):
                heads.setdefault(data[i : i + 3], []).append(i)
            pos += step
        out[flag_at] = flags
    if len(out) > CHUNK:
        # Incompressible: a raw chunk (MS-OVBA 2.4.1.3.10), padded to 4096 bytes as the spec
        # says, so only a full chunk reads back unchanged. Source text always compresses.
        return struct.pack("<H", 0x3000 | (CHUNK - 1)) + data.ljust(CHUNK, b"\0")
    return struct.pack("<H", 0xB000 | (len(out) + 2 - 3)) + bytes(out)


def compress(data: bytes) -> bytes:
    """MS-OVBA CompressedContainer of `data`."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        out += _compress_chunk(data[start : start + CHUNK])
    return bytes(out)


def decompress(container: bytes) -> bytes:
    """The inverse of `compress` (MS-OVBA 2.4.1.3.1), for checks independent of oletools."""
    if not container or container[0] != 1:
        raise ValueError("not an MS-OVBA compressed container")
    out = bytearray()
    pos = 1
    while pos < len(container):
        header = struct.unpack_from("<H", container, pos)[0]
        size = (header & 0x0FFF) + 3
        chunk_end = pos + size
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:
            out += container[pos : pos + CHUNK]
            pos += CHUNK
            continue
        while pos < chunk_end:
            flags = container[pos]
            pos += 1
            for bit in range(8):
                if pos >= chunk_end:
                    break
                if flags & (1 << bit):
                    token = struct.unpack_from("<H", container, pos)[0]
                    pos += 2
                    bit_count, _ = _copy_token_help(len(out) - chunk_start)
                    length = (token & (0xFFFF >> bit_count)) + 3
                    offset = (token >> (16 - bit_count)) + 1
                    for _ in range(length):
                        out.append(out[-offset])
                else:
                    out.append(container[pos])
                    pos += 1
    return bytes(out)


# --- MS-CFB: a version 3 compound file -----------------------------------------------

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[_Entry] | None = None
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    red: bool = False
    start: int = END
    index: int = 0


def _cfb_key(entry: _Entry) -> tuple[int, str]:
    """MS-CFB 2.6.4: siblings are ordered by name length, then by upper-cased name."""
    return (len(entry.name.encode("utf-16-le")), entry.name.upper())


def _tree(nodes: list[_Entry], depth: int, depths: dict[int, int]) -> int:
    """A balanced tree of siblings (recursive middle split); returns the root's index."""
    if not nodes:
        return NOSTREAM
    mid = len(nodes) // 2
    node = nodes[mid]
    depths[node.index] = depth
    node.left = _tree(nodes[:mid], depth + 1, depths)
    node.right = _tree(nodes[mid + 1 :], depth + 1, depths)
    return node.index


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding `streams`, keyed by '/'-separated paths ('VBA/dir')."""
    root = _Entry("Root Entry", 5, children=[])
    for path, data in streams.items():
        parent = root
        *folders, leaf = path.split("/")
        for folder in folders:
            assert parent.children is not None
            found = next((c for c in parent.children if c.name == folder and c.kind == 1), None)
            if found is None:
                found = _Entry(folder, 1, children=[])
                parent.children.append(found)
            parent = found
        assert parent.children is not None
        parent.children.append(_Entry(leaf, 2, data))
    entries: list[_Entry] = []

    def number(entry: _Entry) -> None:
        entry.index = len(entries)
        entries.append(entry)
        for child in sorted(entry.children or [], key=_cfb_key):
            number(child)

    number(root)
    for entry in entries:
        if entry.children:
            ordered = sorted(entry.children, key=_cfb_key)
            depths: dict[int, int] = {}
            entry.child = _tree(ordered, 0, depths)
            # A middle-split tree has every leaf on its last two levels: colouring the last
            # level red (when it is not full) gives every path the same black count, so the
            # siblings form a valid red-black tree as MS-CFB 2.6.4 asks.
            deepest = max(depths.values())
            full = (len(ordered) + 1) & len(ordered) == 0
            for child in ordered:
                child.red = not full and depths[child.index] == deepest
    # Small streams go to the mini stream, the rest to whole sectors.
    mini = bytearray()
    mini_fat: list[int] = []
    big: list[_Entry] = []
    for entry in entries:
        if entry.kind != 2:
            continue
        if len(entry.data) < CUTOFF:
            if not entry.data:
                entry.start = END
                continue
            count = -(-len(entry.data) // MINI)
            entry.start = len(mini_fat)
            mini_fat += [*range(entry.start + 1, entry.start + count), END]
            mini += entry.data.ljust(count * MINI, b"\0")
        else:
            big.append(entry)
    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        if not data:
            return END
        count = -(-len(data) // SECTOR)
        first = len(sectors)
        for i in range(count):
            sectors.append(data[i * SECTOR : (i + 1) * SECTOR].ljust(SECTOR, b"\0"))
        fat.extend([*range(first + 1, first + count), END])
        return first

    root.start = place(bytes(mini))
    root.data = bytes(mini)
    for entry in big:
        entry.start = place(entry.data)
    mini_fat_sectors = -(-len(mini_fat) * 4 // SECTOR)
    mini_fat += [FREE] * (mini_fat_sectors * SECTOR // 4 - len(mini_fat))
    mini_fat_start = place(b"".join(struct.pack("<I", x) for x in mini_fat))
    blanks = -len(entries) % (SECTOR // 128)
    directory = b"".join(_dir_entry(e) for e in entries) + _dir_entry(None) * blanks
    dir_start = place(directory)
    # The FAT describes itself too: grow it until it covers every sector.
    fat_count = 1
    while fat_count * (SECTOR // 4) < len(sectors) + fat_count:
        fat_count += 1
    if fat_count > 109:
        raise ValueError("VBA project too large for a FAT without DIFAT sectors")
    fat_first = len(sectors)
    fat += [FATSECT] * fat_count
    fat += [FREE] * (fat_count * (SECTOR // 4) - len(fat))
    fat_bytes = b"".join(struct.pack("<I", x) for x in fat)
    difat = [fat_first + i for i in range(fat_count)] + [FREE] * (109 - fat_count)
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack(
            "<IIIIIIIII",
            0,  # directory sectors (must be 0 in version 3)
            fat_count,
            dir_start,
            0,
            CUTOFF,
            mini_fat_start,
            mini_fat_sectors,
            END,  # no DIFAT sectors
            0,
        )
        + b"".join(struct.pack("<I", x) for x in difat)
    )
    assert len(header) == SECTOR
    return header + b"".join(sectors) + fat_bytes


def _dir_entry(entry: _Entry | None) -> bytes:
    if entry is None:
        return (
            b"\0" * 64
            + struct.pack("<HBBIII", 0, 0, 1, NOSTREAM, NOSTREAM, NOSTREAM)
            + (b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + b"\0" * 4 + b"\0" * 8)
        )
    name = entry.name.encode("utf-16-le")
    if len(name) > 62:
        raise ValueError(f"compound file entry name too long: {entry.name}")
    size = len(entry.data) if entry.kind != 1 else 0
    start = entry.start if entry.kind != 1 else 0
    return (
        (name + b"\0\0").ljust(64, b"\0")
        + struct.pack(
            "<HBBIII",
            len(name) + 2,
            entry.kind,
            0 if entry.red else 1,
            entry.left,
            entry.right,
            entry.child,
        )
        + b"\0" * 16  # CLSID
        + b"\0" * 4  # state bits
        + b"\0" * 16  # creation and modification times
        + struct.pack("<IQ", start if size or entry.kind == 5 else END, size)
    )


# --- MS-OVBA 2.3: the project ------------------------------------------------------------

DOC_WORKBOOK = "0{00020819-0000-0000-C000-000000000046}"
DOC_SHEET = "0{00020820-0000-0000-C000-000000000046}"
DOC_CHART = "0{00020821-0000-0000-C000-000000000046}"
# MS-OVBA 2.3.4.1: a performance cache of version 0xFFFF, which no VBA release writes, so
# Excel discards every compiled copy and compiles the modules from their source.
NO_CACHE = bytes([0xCC, 0x61, 0xFF, 0xFF, 0x00, 0x01, 0x00])


@dataclass(frozen=True)
class Module:
    """One VBA module: its name, kind and exact source (CRLF lines, Attribute lines first)."""

    name: str
    kind: str  # "module", "class" or "document"
    source: bytes

    def __post_init__(self) -> None:
        if self.kind not in {"module", "class", "document"}:
            raise ValueError(self.kind)


def document_module(name: str, base: str, code: str = "") -> Module:
    """A sheet's or the workbook's code-behind module, with the attributes Excel writes."""
    lines = [
        f'Attribute VB_Name = "{name}"',
        f'Attribute VB_Base = "{base}"',
        "Attribute VB_GlobalNameSpace = False",
        "Attribute VB_Creatable = False",
        "Attribute VB_PredeclaredId = True",
        "Attribute VB_Exposed = True",
        "Attribute VB_TemplateDerived = False",
        "Attribute VB_Customizable = True",
    ]
    text = "\r\n".join(lines) + "\r\n" + code
    return Module(name, "document", text.encode("cp1252"))


def _record(rid: int, data: bytes) -> bytes:
    return struct.pack("<HI", rid, len(data)) + data


def _text_pair(rid: int, text: str, unicode_id: int) -> bytes:
    return _record(rid, text.encode("cp1252")) + _record(unicode_id, text.encode("utf-16-le"))


def _dir_stream(modules: Sequence[Module], project: str) -> bytes:
    out = bytearray()
    out += _record(0x01, struct.pack("<I", 1))  # SysKind: 32-bit Windows (any host opens it)
    out += _record(0x02, struct.pack("<I", 0x409))  # LCID
    out += _record(0x14, struct.pack("<I", 0x409))  # LCID invoke
    out += _record(0x03, struct.pack("<H", 1252))  # code page
    out += _record(0x04, project.encode("cp1252"))
    out += _text_pair(0x05, "", 0x40)  # doc string
    out += _text_pair(0x06, "", 0x3D)  # help file
    out += _record(0x07, struct.pack("<I", 0))  # help context
    out += _record(0x08, struct.pack("<I", 0))  # lib flags
    out += struct.pack("<HIIH", 0x09, 4, 1, 0)  # version 1.0 (its size field is fixed at 4)
    out += _text_pair(0x0C, "", 0x3C)  # constants
    # One reference, OLE Automation, as a new Excel workbook has; the VBA and Excel
    # libraries are implicit.
    out += _text_pair(0x16, "stdole", 0x3E)
    libid = (
        b"*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#"
        b"C:\\Windows\\System32\\stdole2.tlb#OLE Automation"
    )
    out += _record(0x0D, struct.pack("<I", len(libid)) + libid + struct.pack("<IH", 0, 0))
    out += _record(0x0F, struct.pack("<H", len(modules)))
    out += _record(0x13, struct.pack("<H", 0xFFFF))  # project cookie
    for module in modules:
        out += _module_records(module)
    out += struct.pack("<HI", 0x10, 0)  # dir terminator
    return bytes(out)


def _module_records(module: Module) -> bytes:
    out = bytearray()
    out += _record(0x19, module.name.encode("cp1252"))
    out += _record(0x47, module.name.encode("utf-16-le"))
    out += _text_pair(0x1A, module.name, 0x32)  # stream name
    out += _text_pair(0x1C, "", 0x48)  # doc string
    out += _record(0x31, struct.pack("<I", 0))  # source starts the stream: no p-code
    out += _record(0x1E, struct.pack("<I", 0))  # help context
    out += _record(0x2C, struct.pack("<H", 0xFFFF))  # cookie
    out += struct.pack("<HI", 0x21 if module.kind == "module" else 0x22, 0)
    out += struct.pack("<HI", 0x2B, 0)  # module terminator
    return bytes(out)


def _encrypt(data: bytes, project_id: str, seed: int) -> str:
    """MS-OVBA 2.4.3.2 data encryption, as used by the PROJECT stream's CMG, DPB and GC."""
    key = sum(project_id.encode("cp1252")) & 0xFF
    version = 2
    out = [seed, seed ^ version, seed ^ key]
    unenc1, enc1, enc2 = key, out[2], out[1]
    for _ in range((seed & 6) // 2):
        temp = 7
        byte = ((enc2 + unenc1) & 0xFF) ^ temp
        out.append(byte)
        enc2, enc1, unenc1 = enc1, byte, temp
    for plain in struct.pack("<I", len(data)) + data:
        byte = plain ^ ((enc2 + unenc1) & 0xFF)
        out.append(byte)
        enc2, enc1, unenc1 = enc1, byte, plain
    return "".join(f"{b:02X}" for b in out)


def _project_line(module: Module) -> str:
    """A module's line in the PROJECT stream (MS-OVBA 2.3.1.3 to 2.3.1.6)."""
    if module.kind == "document":
        return f"Document={module.name}/&H00000000"
    return f"{'Class' if module.kind == 'class' else 'Module'}={module.name}"


def _project_stream(modules: Sequence[Module], project: str, project_id: str) -> bytes:
    lines = [f'ID="{project_id}"']
    lines += [_project_line(module) for module in modules]
    lines += [
        f'Name="{project}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        # Not protected, no password, visible: fixed seeds keep the build reproducible.
        f'CMG="{_encrypt(struct.pack("<I", 0), project_id, 0x8D)}"',
        f'DPB="{_encrypt(bytes([0]), project_id, 0x8F)}"',
        f'GC="{_encrypt(bytes([0xFF]), project_id, 0x91)}"',
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
    ]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _project_wm(modules: Sequence[Module]) -> bytes:
    out = bytearray()
    for module in modules:
        out += module.name.encode("cp1252") + b"\0"
        out += module.name.encode("utf-16-le") + b"\0\0"
    return bytes(out + b"\0\0")


def build_vba_project(
    modules: Sequence[Module], *, project: str = "VBAProject", project_id: str | None = None
) -> bytes:
    """The bytes of `xl/vbaProject.bin` holding `modules`."""
    names = [m.name.lower() for m in modules]
    if len(set(names)) != len(names):
        raise ValueError("two VBA modules share a name")
    for module in modules:
        first = module.source.split(b"\r\n", 1)[0]
        if first != f'Attribute VB_Name = "{module.name}"'.encode():
            raise ValueError(f"{module.name}: the source must start with its VB_Name attribute")
    project_id = project_id or "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, project)).upper() + "}"
    streams = {
        "PROJECT": _project_stream(modules, project, project_id),
        "PROJECTwm": _project_wm(modules),
        "VBA/_VBA_PROJECT": NO_CACHE,
        "VBA/dir": compress(_dir_stream(modules, project)),
    }
    for module in modules:
        streams[f"VBA/{module.name}"] = compress(module.source)
    return compound_file(streams)


# --- Keeping a saved workbook's document modules in step with its sheets ---------------


class ProjectNotEditable(ValueError):
    """A VBA project this module will not rewrite (forms, or a layout it does not know)."""


@dataclass
class _DirModule:
    name: str
    stream: str
    kind: int  # 0x21 procedural, 0x22 document or class
    offset: int
    records: bytes


def _dir_records(data: bytes) -> list[tuple[int, bytes]]:
    """MS-OVBA 2.3.4.2 records in order; PROJECTVERSION's size field says 4 for 6 bytes."""
    records, at = [], 0
    while at + 6 <= len(data):
        rid, size = struct.unpack_from("<HI", data, at)
        if rid == 0x09:
            size = 6
        records.append((rid, data[at + 6 : at + 6 + size]))
        at += 6 + size
        if rid == 0x10:
            break
    return records


def _pack(records: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for rid, data in records:
        out += struct.pack("<HI", rid, 4 if rid == 0x09 else len(data)) + data
    return bytes(out)


def _read_project(project: bytes) -> dict[str, bytes]:
    import olefile

    ole = olefile.OleFileIO(project)
    try:
        streams: dict[str, bytes] = {}
        for path in ole.listdir(streams=True, storages=True):
            name = "/".join(path)
            kind = ole.get_type(path)
            if kind == olefile.STGTY_STORAGE:
                if path != ["VBA"] or ole.getclsid(path) not in (
                    "",
                    "00000000-0000-0000-0000-000000000000",
                ):
                    raise ProjectNotEditable(f"the project holds a form or designer ({name})")
                continue
            streams[name] = ole.openstream(path).read()
        return streams
    finally:
        ole.close()


# Mac Excel writes its projects in the Mac code pages, which Python names otherwise.
_MAC_CODECS = {
    10000: "mac_roman",
    10006: "mac_greek",
    10007: "mac_cyrillic",
    10029: "mac_latin2",
    10079: "mac_iceland",
    10081: "mac_turkish",
}


def _codec(codepage: int) -> str:
    """Python's codec for a project's code page; one Python does not know leaves the
    project as it was (ProjectNotEditable) rather than failing the save."""
    import codecs

    name = _MAC_CODECS.get(codepage, f"cp{codepage}")
    try:
        codecs.lookup(name)
    except LookupError:
        raise ProjectNotEditable(f"the project's code page {codepage} is not known") from None
    return name


def _split_dir(data: bytes) -> tuple[list[tuple[int, bytes]], list[_DirModule], str]:
    records = _dir_records(data)
    codepage = "cp1252"
    header: list[tuple[int, bytes]] = []
    modules: list[_DirModule] = []
    current: list[tuple[int, bytes]] | None = None
    for rid, body in records:
        if rid == 0x03:
            codepage = _codec(struct.unpack("<H", body)[0])
        if rid == 0x19:
            current = []
        if current is None:
            if rid != 0x10:
                header.append((rid, body))
            continue
        current.append((rid, body))
        if rid == 0x2B:
            fields = dict(current)
            modules.append(
                _DirModule(
                    name=fields[0x19].decode(codepage),
                    stream=fields.get(0x1A, fields[0x19]).decode(codepage),
                    kind=0x21 if 0x21 in fields else 0x22,
                    offset=struct.unpack("<I", fields.get(0x31, bytes(4)))[0],
                    records=_pack(current),
                )
            )
            current = None
    return header, modules, codepage


def _is_sheet_module(streams: dict[str, bytes], module: _DirModule, codepage: str) -> bool:
    if module.kind != 0x22:
        return False
    source = decompress(streams[f"VBA/{module.stream}"][module.offset :])
    head = source.split(b"\r\n", 3)[:3]
    return any(
        line.strip()
        in (f'Attribute VB_Base = "{base}"'.encode(codepage) for base in (DOC_SHEET, DOC_CHART))
        for line in head
    )


class Project:
    """A VBA project read once: its module names, and edits of its sheet modules."""

    def __init__(self, project: bytes) -> None:
        self.original = project
        self.streams = _read_project(project)
        self.header, self.modules, self.codepage = _split_dir(decompress(self.streams["VBA/dir"]))

    @property
    def module_names(self) -> list[str]:
        """Every module's name (a new sheet's codeName must differ from all)."""
        return [m.name for m in self.modules]

    @property
    def sheet_module_names(self) -> list[str]:
        """The document modules of sheets and chart sheets (not the workbook's)."""
        return [m.name for m in self.modules if _is_sheet_module(self.streams, m, self.codepage)]

    def modules_for(self, codeless: Sequence[str], claimed: Collection[str]) -> dict[str, str]:
        """Which of its sheet modules the sheets without a codeName take: the module of the
        sheet's own name, then, when as many modules as sheets are left, the rest in order.
        LibreOffice saves no codeName, and a sheet given a new module would leave its own
        (with the code in it) behind, to be dropped. Keys are the sheets' titles."""
        taken = {name.lower() for name in claimed}
        free = [n for n in self.sheet_module_names if n.lower() not in taken]
        out: dict[str, str] = {}
        for title in codeless:
            match = next((n for n in free if n.lower() == title.lower()), None)
            if match is not None:
                out[title] = match
                free.remove(match)
        rest = [title for title in codeless if title not in out]
        if rest and len(rest) == len(free):
            out.update(zip(rest, free, strict=True))
        return out

    def with_sheet_modules(
        self,
        code_names: Sequence[str],
        extra: Sequence[Module] = (),
        charts: Collection[str] = (),
    ) -> bytes:
        """The project with one document module per sheet code name and none for a sheet
        that is gone; every other module, reference and setting kept as it was.

        A workbook's sheets and its VBA project's document modules must match one to
        one: Excel ties each sheet to the module of its codeName, and a module left for a
        deleted sheet, or a sheet without one, is what a damaged macro workbook looks
        like. The bytes come back unchanged when nothing is missing or left over;
        otherwise the compiled cache is marked stale (NO_CACHE) so Excel compiles the
        edited project from source. A chart sheet's module (`charts`) has the chart's
        base class. `extra` modules (standard and class modules: the
        rebalancer's macros, added by `init --into`) join unless one of that name is
        there already.
        """
        streams, modules, codepage = self.streams, self.modules, self.codepage
        wanted = {name.lower(): name for name in code_names}
        orphans = {
            m.name.lower()
            for m in modules
            if m.name.lower() not in wanted and _is_sheet_module(streams, m, codepage)
        }
        present = {m.name.lower() for m in modules}
        missing = [name for key, name in wanted.items() if key not in present]
        joining = [m for m in extra if m.name.lower() not in present | set(wanted)]
        if not orphans and not missing and not joining:
            return self.original
        kept = [m for m in modules if m.name.lower() not in orphans]
        added = [
            document_module(name, DOC_CHART if name in charts else DOC_SHEET) for name in missing
        ] + joining
        count = len(kept) + len(added)
        body = bytearray(
            _pack(
                [
                    (rid, struct.pack("<H", count) if rid == 0x0F else data)
                    for rid, data in self.header
                ]
            )
        )
        for module in kept:
            body += module.records
        for new in added:
            body += _module_records(new)
        body += struct.pack("<HI", 0x10, 0)
        gone_streams = _streams_of(modules, orphans)
        out = {
            name: data
            for name, data in streams.items()
            if not name.startswith("VBA/__SRP_")
            and not (name.startswith("VBA/") and name[4:].lower() in gone_streams)
        }
        out["VBA/dir"] = compress(bytes(body))
        out["VBA/_VBA_PROJECT"] = NO_CACHE
        for new in added:
            out[f"VBA/{new.name}"] = compress(new.source)
        gone = {m.name for m in modules if m.name.lower() in orphans}
        if "PROJECT" in out:
            out["PROJECT"] = _edit_project_stream(out["PROJECT"], gone, added, codepage)
        if "PROJECTwm" in out:
            names = [m.name for m in added]
            out["PROJECTwm"] = _edit_project_wm(out["PROJECTwm"], gone, names, codepage)
        return compound_file(out)


def with_sheet_modules(project: bytes, code_names: Sequence[str]) -> bytes:
    """`Project.with_sheet_modules` on the bytes of a project."""
    return Project(project).with_sheet_modules(code_names)


def _streams_of(modules: list[_DirModule], names: set[str]) -> set[str]:
    return {m.stream.lower() for m in modules if m.name.lower() in names}


def _edit_project_stream(
    data: bytes, gone: set[str], added: Sequence[Module], codepage: str
) -> bytes:
    """MS-OVBA 2.3.1: drop the Document= and [Workspace] lines of removed modules and add
    lines for new ones after the last module line."""
    lines = data.decode(codepage).split("\r\n")
    lowered = {name.lower() for name in gone}

    def keep(line: str) -> bool:
        key, _, value = line.partition("=")
        if key == "Document" and value.split("/")[0].lower() in lowered:
            return False
        return key.lower() not in lowered

    lines = [line for line in lines if keep(line)]
    module_keys = ("ID=", "Document=", "Module=", "Class=", "Package=", "BaseClass=")
    last = max((i for i, line in enumerate(lines) if line.startswith(module_keys)), default=-1)
    lines[last + 1 : last + 1] = [_project_line(module) for module in added]
    if "[Workspace]" in lines:
        at = len(lines)
        while at > 0 and lines[at - 1] == "":
            at -= 1
        lines[at:at] = [f"{module.name}=0, 0, 0, 0, C" for module in added]
    return "\r\n".join(lines).encode(codepage)


def _edit_project_wm(data: bytes, gone: set[str], added: list[str], codepage: str) -> bytes:
    """MS-OVBA 2.3.3: pairs of (MBCS name, NUL, UTF-16 name, NUL NUL), then NUL NUL."""
    pairs: list[tuple[bytes, bytes]] = []
    at = 0
    while at < len(data) and data[at] != 0:
        end = data.index(b"\0", at)
        mbcs = data[at:end]
        start = end + 1
        stop = start
        while data[stop : stop + 2] != b"\0\0":
            stop += 2
        pairs.append((mbcs, data[start:stop]))
        at = stop + 2
    lowered = {name.lower() for name in gone}
    pairs = [(m, u) for m, u in pairs if m.decode(codepage).lower() not in lowered]
    pairs += [(name.encode(codepage), name.encode("utf-16-le")) for name in added]
    return b"".join(m + b"\0" + u + b"\0\0" for m, u in pairs) + b"\0\0"
