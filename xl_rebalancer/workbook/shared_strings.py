"""The package's shared-string table with new text added to it, reusing the items no
kept sheet refers to, so repeated runs do not grow it.

Kept apart from the splice (workbook/splice.py) because --recalc's cell patch
(workbook/recalc_save.py) adds its spilled text through the same table.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field

from .package import _EMPTY_INLINE, _INLINE_CELL, NS_MAIN, si_items
from .splice_parts import NotSpliceable

_SI = re.compile(r"<si>(.*?)</si>|<si/>", re.S)


_PLAIN_SI = re.compile(r'^<t(?: xml:space="preserve")?>([^<]*)</t>$')


@dataclass
class _Strings:
    """The package's shared-string table, with the engine sheets' text added to it."""

    text: str | None
    added: list[str] = field(default_factory=list)
    size: int = 0
    references: int = 0
    # The items the sheets that stay refer to (release): only those are looked up for
    # reuse and kept; every other item may take new text, so repeated runs do not grow
    # the table, and memory follows what the sheets use, not the table's size (a user's
    # table of 3 million strings). None: not known, every item kept and looked up.
    kept: set[int] | None = None
    reused: dict[int, str] = field(default_factory=dict)
    _index: dict[str, int] | None = None
    _next_free: int = 0

    def __post_init__(self) -> None:
        if self.text is None:
            return
        if re.search(r"<\w+:sst\b", self.text):
            raise NotSpliceable("a prefixed shared-string table")
        self.size = sum(1 for _ in _SI.finditer(self.text))
        count = re.search(r'<sst\b[^>]*?\bcount="(\d+)"', self.text)
        self.references = int(count.group(1)) if count else 0

    def release(self, kept: set[int]) -> None:
        """Every item outside `kept` (the items the sheets that stay refer to) may take
        new text."""
        self.kept = set(kept)

    def _lookup(self) -> dict[str, int]:
        """Plain text → item, for the items kept (all of them, before release)."""
        if self._index is None:
            self._index = {}
            if self.text is not None:
                for i, match in enumerate(_SI.finditer(self.text)):
                    if self.kept is not None and i not in self.kept:
                        continue
                    plain = _PLAIN_SI.match(match.group(1) or "")
                    if plain is not None:
                        self._index.setdefault(plain.group(1), i)
        return self._index

    def _take(self) -> int | None:
        """The lowest item no kept sheet uses and no new text has taken yet."""
        if self.kept is None:
            return None
        while self._next_free < self.size:
            slot = self._next_free
            self._next_free += 1
            if slot not in self.kept:
                return slot
        return None

    def add(self, text: str) -> int:
        """One more cell holding `text` (already XML-escaped): its index in the table."""
        index = self._lookup()
        found = index.get(text)
        if found is None:
            found = self._take()
            if found is None:
                found = self.size + len(self.added)
                self.added.append(text)
            else:
                self.reused[found] = text
            index[text] = found
        self.references += 1
        return found

    def share(self, sheet: str) -> str:
        def shared(match: re.Match[str]) -> str:
            index = self.add(match.group(3))
            return f'<c {match.group(1)}t="s"{match.group(2)}><v>{index}</v></c>'

        sheet = _INLINE_CELL.sub(shared, sheet)
        return _EMPTY_INLINE.sub(lambda m: f"<c {m.group(1).rstrip()}{m.group(2)}></c>", sheet)

    def forget(self, sheet: bytes) -> None:
        """A replaced sheet's references leave the table's total count."""
        self.references = max(0, self.references - len(re.findall(rb'\st="s"', sheet)))

    def _compacted(self) -> str:
        """The table with reused items given their new text and unused ones emptied."""
        assert self.text is not None and self.kept is not None
        kept = self.kept
        position = -1

        def item(match: re.Match[str]) -> str:
            nonlocal position
            position += 1
            if position in self.reused:
                return si_items([self.reused[position]])
            return match.group(0) if position in kept else "<si><t/></si>"

        return _SI.sub(item, self.text)

    def xml(self) -> str:
        items = si_items(self.added)
        unique = self.size + len(self.added)
        if self.text is not None and self.kept is not None:
            self.text = self._compacted()
        if self.text is None:
            return (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<sst xmlns="{NS_MAIN}" count="{self.references}" uniqueCount="{unique}">'
                f"{items}</sst>"
            )
        text = self.text
        opening = re.search(r"<sst\b[^>]*?(/?)>", text)
        if opening is None:
            raise NotSpliceable("no sst element")
        tag = re.sub(
            r'\s(?:count|uniqueCount)="\d+"', "", opening.group(0)[: -len(opening.group(1)) - 1]
        )
        tag += f' count="{self.references}" uniqueCount="{unique}">'
        if opening.group(1):  # <sst .../> : an empty table
            return text[: opening.start()] + tag + items + "</sst>" + text[opening.end() :]
        close = text.rindex("</sst>")
        return text[: opening.start()] + tag + text[opening.end() : close] + items + text[close:]


# Sheets kept beside the replaced ones are read for the strings they use only up to this
# size in all: past it the table keeps every item (it grows by the new text of a run).
_STRING_SCAN_LIMIT = 64 << 20


_SHARED_CELL = re.compile(rb'<c\b[^>]*?\bt="s"[^>]*>(?:(?!</c>).)*?<v>(\d+)</v>', re.S)


def _kept_strings(archive: zipfile.ZipFile, parts: list[str]) -> set[int] | None:
    """The shared-string items the sheets that stay refer to, or None when they are too
    large to read on every save."""
    infos = [archive.getinfo(p) for p in parts if p in archive.NameToInfo]
    if sum(i.file_size for i in infos) > _STRING_SCAN_LIMIT:
        return None
    kept: set[int] = set()
    for info in infos:
        data = archive.read(info)
        if b't="s"' in data:
            kept.update(int(m) for m in _SHARED_CELL.findall(data))
    return kept
