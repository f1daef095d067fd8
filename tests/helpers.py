"""Small builders for test documents in every supported format."""

from __future__ import annotations

import io
from pathlib import Path


def write_pdf(path: Path, pages: list[str], title: str = "A PDF report") -> Path:
    """A real PDF (reportlab) with one paragraph of text per page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(title)
    c.setAuthor("Test Institute")
    for text in pages:
        y = 800
        line = ""
        for word in text.split():
            if len(line) + len(word) > 80:
                c.drawString(40, y, line)
                y -= 14
                line = ""
            line += word + " "
        c.drawString(40, y, line)
        c.showPage()
    c.save()
    path.write_bytes(buf.getvalue())
    return path


def write_docx(path: Path, paragraphs: list[str], title: str = "A Word report") -> Path:
    """A real .docx (python-docx) with the given paragraphs."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for p in paragraphs:
        document.add_paragraph(p)
    document.save(str(path))
    return path


def write_md(path: Path, body: str, **front: str) -> Path:
    """Markdown with YAML front matter."""
    head = "".join(f"{k}: {v}\n" for k, v in front.items())
    path.write_text(f"---\n{head}---\n\n{body}\n", encoding="utf-8")
    return path


def check_verbatim(service, answer) -> None:  # type: ignore[no-untyped-def]
    """Every passage and quote is the canonical text at its stated offsets."""
    for p in answer.passages:
        canonical = service.store.canonical_text(p.report_id)
        assert canonical is not None
        assert canonical[p.start:p.end] == p.text
        assert canonical[p.quote_start:p.quote_end] == p.quote
        assert p.start <= p.quote_start < p.quote_end <= p.end
        assert 0 < len(p.quote) <= 400
