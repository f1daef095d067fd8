"""The text of a .docx as Word shows it, in reading order.

python-docx's ``document.paragraphs`` holds only the body's top-level paragraphs: it drops tables,
content controls, text boxes, tracked insertions (``w:ins`` wraps the runs it reads) and the notes,
any of which can carry the sentence a desk asks about. This walks the WordprocessingML itself:
- tracked changes are read as accepted (insertions and moves in; deletions and moved-from text out;
  a paragraph whose mark was deleted runs into the next);
- a table row is one paragraph, its cells joined by " | " (as trafilatura writes an HTML table);
- a text box's paragraphs follow the paragraph it is anchored in; ``mc:Fallback`` copies are skipped;
- a note reference is written "[1]" (footnotes) or "[i]" (endnotes), Word's default numbering, and
  the notes follow the body in that order, each one paragraph opening with its mark.
Hidden text (an editor's note) and content controls still showing their placeholder are left out,
as are headers and footers: they repeat on every page and would be quoted as if they were text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from docx.oxml import parse_xml  # python-docx's parser: no entities, no network

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_NOTE_PARTS = {"footnote": "/footnotes", "endnote": "/endnotes"}
# Never shown as text, or shown only as an edit that was not accepted: not descended into.
_HIDDEN = {_W + t for t in ("del", "moveFrom", "instrText", "delText", "rPr", "pPr", "tblPr", "trPr", "tcPr",
                            "sdtPr", "rt", "commentReference", "footnoteRef", "endnoteRef")} | {_FALLBACK}
_SPACE = {_W + t for t in ("tab", "ptab", "br", "cr")}
# Containers that hold blocks (paragraphs, tables) or rows and cells without being one themselves.
_WRAPPERS = {_W + t for t in ("sdt", "sdtContent", "customXml", "ins", "moveTo")}


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                           (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        count, n = divmod(n, value)
        out += letters * count
    return out


class _Notes:
    """Note marks numbered in the order the body refers to them, as Word numbers them."""

    def __init__(self) -> None:
        self.order: dict[str, dict[str, str]] = {"footnote": {}, "endnote": {}}

    def mark(self, kind: str, note_id: str) -> str:
        numbers = self.order[kind]
        if note_id not in numbers:
            n = len(numbers) + 1
            numbers[note_id] = str(n) if kind == "footnote" else _roman(n)
        return f"[{numbers[note_id]}]"


def _unseen(element: Any) -> bool:
    """A run formatted as hidden text (``w:vanish``: an editor's note left in), or a content control
    showing its placeholder ("Click or tap here to enter text.") rather than anything typed."""
    if element.tag == _W + "r":
        props = element.find(_W + "rPr")
        return props is not None and props.find(_W + "vanish") is not None
    if element.tag == _W + "sdt":
        props = element.find(_W + "sdtPr")
        return props is not None and props.find(_W + "showingPlcHdr") is not None
    return False


def _is_deleted_row(row: Any) -> bool:
    props = row.find(_W + "trPr")
    return props is not None and props.find(_W + "del") is not None


def _children(element: Any, tag: str) -> Iterator[Any]:
    """``element``'s children named ``tag``, looking through content controls and tracked insertions."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tag)


def _paragraph(p: Any, notes: _Notes) -> Iterator[str]:
    parts: list[str] = []
    boxes: list[str] = []

    def walk(element: Any) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _HIDDEN or _unseen(child):  # comments and PIs too
                continue
            if tag == _W + "t":
                parts.append(child.text or "")
            elif tag in _SPACE:
                parts.append(" ")
            elif tag == _W + "noBreakHyphen":
                parts.append("-")
            elif tag == _W + "txbxContent":
                boxes.extend(_blocks(child, notes))
            elif tag in (_W + "footnoteReference", _W + "endnoteReference"):
                kind = "footnote" if tag == _W + "footnoteReference" else "endnote"
                parts.append(notes.mark(kind, child.get(_W + "id", "")))
            else:
                walk(child)

    walk(p)
    yield "".join(parts)
    yield from boxes


def _table(table: Any, notes: _Notes) -> Iterator[str]:
    for row in _children(table, _W + "tr"):
        if _is_deleted_row(row):
            continue
        cells = (" ".join(t for t in _blocks(cell, notes) if t.strip()) for cell in _children(row, _W + "tc"))
        yield " | ".join(c for c in cells if c.strip())


def _mark_deleted(p: Any) -> bool:
    """A paragraph whose mark was deleted with changes tracked: as accepted, it runs into the next."""
    props = p.find(_W + "pPr")
    run_props = props.find(_W + "rPr") if props is not None else None
    return run_props is not None and run_props.find(_W + "del") is not None


def _blocks(element: Any, notes: _Notes) -> Iterator[str]:
    """The paragraphs under a body, cell, text box or note, in reading order."""
    joined = ""  # the text of paragraphs whose marks were deleted, waiting for the one they run into
    for child in element:
        if child.tag == _W + "p":
            text, *boxes = _paragraph(child, notes)
            if _mark_deleted(child):
                joined += text
            else:
                yield joined + text
                joined = ""
            yield from boxes
            continue
        if joined:
            yield joined
            joined = ""
        if child.tag == _W + "tbl":
            yield from _table(child, notes)
        elif child.tag in _WRAPPERS and not _unseen(child):
            yield from _blocks(child, notes)
    if joined:
        yield joined


def _note_texts(document: Any, kind: str, numbers: dict[str, str]) -> Iterator[str]:
    if not numbers:
        return
    part = next((rel.target_part for rel in document.part.rels.values()
                 if not rel.is_external and rel.reltype.endswith(_NOTE_PARTS[kind])), None)
    if part is None:
        return
    root = parse_xml(part.blob)
    by_id = {note.get(_W + "id"): note for note in root.iter(_W + kind)}
    nested = _Notes()  # a note that refers to a note: its mark is kept, the chain is not followed
    for note_id, number in numbers.items():
        note = by_id.get(note_id)
        if note is not None and (text := " ".join(t for t in _blocks(note, nested) if t.strip())):
            yield f"[{number}] {text}"


def paragraphs(document: Any) -> list[str]:
    """The paragraphs of a python-docx ``Document``: body (with tables and text boxes), then its notes."""
    notes = _Notes()
    out = list(_blocks(document.element.body, notes))
    for kind in ("footnote", "endnote"):
        out.extend(_note_texts(document, kind, notes.order[kind]))
    return out
