"""The spliced package written: edited parts written, every other part streamed across
as it was (its compressed bytes copied where zipfile allows), so memory stays bounded
whatever the user keeps beside the portfolio.

Kept apart from the plan (workbook/splice.py), which decides what changes; this only
writes the zip.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

from .package import _now
from .splice_parts import _HEAD_LIMIT, _Plan

_CHUNK = 1 << 20


def _head_cut(head: bytes) -> int:
    """Where a head may be patched up to without cutting a tag or a character."""
    at = head.find(b"<sheetData")
    if at < 0:
        at = head.rfind(b">") + 1
    return at


def _write(archive: zipfile.ZipFile, dest: Path, plan: _Plan) -> None:
    """The new package: edited parts written, every other part streamed across as it was."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
        for info in archive.infolist():
            name = info.filename
            if name in plan.removed:
                continue
            if name in plan.edited:
                out.writestr(_info(name, info), plan.edited[name])
                continue
            patch = plan.heads.get(name)
            if patch is None and _copy_raw(archive, info, out):
                continue
            target = _info(name, info)
            target.file_size = info.file_size
            with archive.open(info) as src, out.open(target, "w") as dst:
                if patch is not None:
                    head = b""
                    while b"<sheetData" not in head and len(head) < _HEAD_LIMIT:
                        chunk = src.read(1 << 16)
                        if not chunk:
                            break
                        head += chunk
                    cut = _head_cut(head)
                    dst.write(patch(head[:cut]))
                    dst.write(head[cut:])
                shutil.copyfileobj(src, dst, _CHUNK)
        present = set(archive.namelist())
        for name in dict.fromkeys(plan.added):
            if name not in present or name in plan.removed:
                out.writestr(_info(name, None), plan.edited[name])


def _copy_raw(source: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> bool:
    """Copy a member's compressed bytes as they are: a 400 MB sheet of the user's would
    otherwise be inflated and deflated again (4 s of a 5 s save). This is what zipfile
    itself does for a directory entry (ZipFile.mkdir), on its internal state; where that
    state differs (another Python) or the member is encrypted, False: copy by streaming."""
    if info.flag_bits & 0x1 or not hasattr(out, "start_dir") or out._writing:  # type: ignore[attr-defined]
        return False
    try:
        handle = source.fp
        assert handle is not None
        handle.seek(info.header_offset)
        header = handle.read(zipfile.sizeFileHeader)  # type: ignore[attr-defined]
        if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:  # type: ignore[attr-defined]
            return False
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        handle.seek(info.header_offset + len(header) + name_length + extra_length)
        copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        copy.compress_type = info.compress_type
        copy.external_attr = info.external_attr
        copy.create_system = info.create_system
        copy.CRC, copy.compress_size, copy.file_size = (
            info.CRC,
            info.compress_size,
            info.file_size,
        )
        copy.flag_bits = info.flag_bits & ~0x08  # sizes are in the header: no descriptor
        with out._lock:  # type: ignore[attr-defined]
            out.fp.seek(out.start_dir)  # type: ignore[attr-defined,union-attr]
            copy.header_offset = out.fp.tell()  # type: ignore[union-attr]
            out._writecheck(copy)  # type: ignore[attr-defined]
            out._didModify = True  # type: ignore[attr-defined]
            out.fp.write(copy.FileHeader())  # type: ignore[union-attr]
            left = info.compress_size
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    raise zipfile.BadZipFile(f"{info.filename} is cut short")
                out.fp.write(chunk)  # type: ignore[union-attr]
                left -= len(chunk)
            out.filelist.append(copy)
            out.NameToInfo[copy.filename] = copy
            out.start_dir = out.fp.tell()  # type: ignore[attr-defined,union-attr]
    except AttributeError:
        return False
    return True


def _info(name: str, like: zipfile.ZipInfo | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=like.date_time if like is not None else _now())
    info.compress_type = like.compress_type if like is not None else zipfile.ZIP_DEFLATED
    info.external_attr = like.external_attr if like is not None else 0o600 << 16
    return info
