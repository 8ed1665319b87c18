"""The engine sheets' cell formats merged into the package's style sheet, equal formats
reused (so repeated runs do not grow it), and the sheets' style numbers remapped.

Kept apart from the splice's plan (workbook/splice.py): comparing formats written by
Excel and by openpyxl is a question of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree

from .package import NS_MAIN, xml_attr
from .splice_parts import NotSpliceable, _attrs

# Style lists in schema order with the element each holds.
_LISTS = (
    ("numFmts", "numFmt"),
    ("fonts", "font"),
    ("fills", "fill"),
    ("borders", "border"),
    ("cellXfs", "xf"),
    ("dxfs", "dxf"),
)


_DEFAULT_ATTRS = {("pivotButton", "0"), ("quotePrefix", "0")}


_BOOLEAN_ELEMENTS = {"b", "i", "strike", "outline", "shadow", "condense", "extend"}


def _list_span(styles: str, container: str) -> tuple[int, int, str] | None:
    """(start, end, inner text) of a style list, or None when the sheet lacks it."""
    match = re.search(rf"<{container}\b[^>]*?(?:/>|>(.*?)</{container}>)", styles, re.S)
    if match is None:
        return None
    return match.start(), match.end(), match.group(1) or ""


def _items(inner: str, element: str) -> list[str]:
    return re.findall(rf"<{element}\b[^>]*/>|<{element}\b[^>]*>.*?</{element}>", inner, re.S)


def _canonical(fragment: str) -> Any:
    """A style element's meaning, so formats written by Excel and by openpyxl compare
    equal (attribute order, default flags and `val="1"` on bold aside)."""
    try:
        element = ElementTree.fromstring(f'<w xmlns="{NS_MAIN}">{fragment}</w>')[0]
    except ElementTree.ParseError:
        return fragment
    return _canonical_element(element)


def _canonical_element(element: Any) -> tuple:
    tag = element.tag.rsplit("}", 1)[-1]
    attrs = {(k, v) for k, v in element.attrib.items() if (k, v) not in _DEFAULT_ATTRS}
    if tag in _BOOLEAN_ELEMENTS:
        attrs -= {("val", "1"), ("val", "true")}
    if tag == "xf":  # apply* flags matter for cell styles, not for how a cell looks
        attrs = {(k, v) for k, v in attrs if not k.startswith("apply")}
    children = tuple(sorted(_canonical_element(child) for child in element))
    return (tag, tuple(sorted(attrs)), (element.text or "").strip(), children)


_XF_REF = re.compile(r'\b(numFmtId|fontId|fillId|borderId|xfId)="(\d+)"')


@dataclass
class _StyleMerge:
    """The package's style sheet with the scratch workbook's formats added to it."""

    styles: str
    maps: dict[str, dict[int, int]] = field(default_factory=dict)

    def merge(self, scratch: str) -> str:
        text = self.styles
        if re.search(r"<\w+:styleSheet\b", text):
            raise NotSpliceable("a prefixed style sheet")
        for container, element in _LISTS:
            source = _list_span(scratch, container)
            items = _items(source[2], element) if source else []
            if container == "numFmts":
                text = self._merge_formats(text, items)
                continue
            if container == "cellXfs":
                items = [self._remap_xf(item) for item in items]
            text, self.maps[element] = _merge_list(text, container, element, items)
        return text

    def _merge_formats(self, text: str, items: list[str]) -> str:
        """Custom number formats are matched by their code; a new code gets a free id."""
        span = _list_span(text, "numFmts")
        present = _items(span[2], "numFmt") if span else []
        by_code = {}
        for item in present:
            attrs = _attrs(item)
            by_code[attrs.get("formatCode")] = int(attrs.get("numFmtId", "0"))
        free = max([163, *by_code.values()]) + 1
        mapping: dict[int, int] = {}
        added = []
        for item in items:
            attrs = _attrs(item)
            code, old = attrs.get("formatCode"), int(attrs.get("numFmtId", "0"))
            if code not in by_code:
                by_code[code] = free
                added.append(f'<numFmt numFmtId="{free}" formatCode="{xml_attr(code or "")}"/>')
                free += 1
            mapping[old] = by_code[code]
        self.maps["numFmt"] = mapping
        if not added:
            return text
        if span is None:
            at = re.search(r"<styleSheet\b[^>]*>", text)
            if at is None:
                raise NotSpliceable("no styleSheet element")
            block = f'<numFmts count="{len(added)}">{"".join(added)}</numFmts>'
            return text[: at.end()] + block + text[at.end() :]
        start, end, inner = span
        block = f'<numFmts count="{len(present) + len(added)}">{inner}{"".join(added)}</numFmts>'
        return text[:start] + block + text[end:]

    def _remap_xf(self, item: str) -> str:
        # A style sheet without cell styles has no entry 0 to point at (xfId is optional).
        styles = _list_span(self.styles, "cellStyleXfs")
        has_normal = styles is not None and bool(_items(styles[2], "xf"))

        def swap(match: re.Match[str]) -> str:
            name, value = match.group(1), int(match.group(2))
            if name == "xfId":  # the scratch workbook has only the Normal style
                return 'xfId="0"' if has_normal else ""
            if name == "numFmtId":
                value = self.maps["numFmt"].get(value, value)
            else:
                value = self.maps[name.removesuffix("Id")][value]
            return f'{name}="{value}"'

        return _XF_REF.sub(swap, item)


def _merge_list(
    text: str, container: str, element: str, items: list[str]
) -> tuple[str, dict[int, int]]:
    span = _list_span(text, container)
    present = _items(span[2], element) if span else []
    index = {}
    for i, item in enumerate(present):
        index.setdefault(_canonical(item), i)
    mapping: dict[int, int] = {}
    added: list[str] = []
    for i, item in enumerate(items):
        key = _canonical(item)
        if key not in index:
            index[key] = len(present) + len(added)
            added.append(item)
        mapping[i] = index[key]
    if not added:
        return text, mapping
    if span is None:
        if container != "dxfs":
            raise NotSpliceable(f"the style sheet has no {container}")
        after = max(text.find("</cellStyles>"), text.find("</cellXfs>"))
        if after < 0:
            raise NotSpliceable("no cellXfs")
        at = text.index(">", after) + 1
        return text[:at] + f'<dxfs count="{len(added)}">{"".join(added)}</dxfs>' + text[
            at:
        ], mapping
    start, end, inner = span
    opening = re.match(rf"<{container}\b[^>]*?(?=/?>)", text[start:end]).group(0)  # type: ignore[union-attr]
    opening = re.sub(r'\scount="\d+"', "", opening) + f' count="{len(present) + len(added)}"'
    return text[:start] + f"{opening}>{inner}{''.join(added)}</{container}>" + text[end:], mapping


_STYLE_ATTR = re.compile(r'(<(?:c|row)\b[^>]*?\bs=")(\d+)(")')


_COL_STYLE = re.compile(r'(<col\b[^>]*?\bstyle=")(\d+)(")')


_DXF_ATTR = re.compile(r'(\b\w*[dD]xfId=")(\d+)(")')


def _restyle(sheet: str, xfs: dict[int, int], dxfs: dict[int, int]) -> str:
    sheet = _STYLE_ATTR.sub(lambda m: f"{m.group(1)}{xfs[int(m.group(2))]}{m.group(3)}", sheet)
    sheet = _COL_STYLE.sub(lambda m: f"{m.group(1)}{xfs[int(m.group(2))]}{m.group(3)}", sheet)
    return _DXF_ATTR.sub(lambda m: f"{m.group(1)}{dxfs[int(m.group(2))]}{m.group(3)}", sheet)


def _remap_dxf_attrs(data: bytes, dxfs: dict[int, int]) -> bytes:
    text = data.decode("utf-8")
    return _DXF_ATTR.sub(
        lambda m: f"{m.group(1)}{dxfs[int(m.group(2))]}{m.group(3)}", text
    ).encode()
