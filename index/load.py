"""Files in, documents out: text plus title, publisher, date, url and page marks, per format."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path
from typing import Any

import yaml

from . import normalize, pdftext, wordfile
from .dates import dateline, parse_date
from .errors import LoadError

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
# Titles that authoring tools write into a PDF's or a Word file's metadata without anyone choosing
# them: the application and file name, a template's placeholder, a path. Every citation shows the
# title, so such a one gives way to the text's first line (or the file's name).
_JUNK_TITLE = re.compile(
    r"^\s*(?:microsoft\s+(?:word|powerpoint|excel)\s+-|untitled\b|document\s*\d*\s*$|title\s*$|"
    r"powerpoint\s+presentation\s*$|slide\s*\d*\s*$|layout\s*\d*\s*$|default\s*$|[a-z]:\\|/|\W*$)"
    r"|\.(?:docx?|pdf|indd|pptx?|rtf|odt|tex|dvi|ps|qxd|pub)\s*$",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
# Real front matter is a few lines; a longer block between two "---" rules is text, and parsing
# megabytes of it as YAML (pure Python) would take seconds per megabyte.
MAX_FRONT_MATTER = 64_000
# Byte-order marks: UTF-32 before UTF-16, whose LE mark is a prefix of UTF-32's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# How close another encoding may fit (charset_normalizer's "chaos" and language "coherence") before
# a guess is refused. On ten legacy samples (pl, cz, fr, es, de, lt, tr, el, ru, uk) this refuses the
# three that would have been misread, and one (es) that would not.
AMBIGUOUS_CHAOS = 0.06
AMBIGUOUS_COHERENCE = 0.05
# A .docx is a zip: refuse one that would expand past this in memory (a few-KB "zip bomb" can
# expand to gigabytes). A 1,000-page report's XML is a few tens of MB.
MAX_DOCX_UNZIPPED = 200_000_000
# Hostile PDFs can make pypdf decompress and parse tens of MB per page: each stream is capped
# and the whole extraction gets a time budget, so one file cannot stall an ingest for hours.
PDF_STREAM_MAX = 10_000_000
PDF_SECONDS = 120.0


@dataclass(slots=True)
class Document:
    """A loaded report before chunking; ``text`` is the canonical text all offsets refer to."""

    text: str
    title: str
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    path: str | None = None
    pages: list[tuple[int, int]] = field(default_factory=list)  # (offset, page number), sorted
    raw_sha: str = ""

    @property
    def report_id(self) -> str:
        """Content address: the same canonical text always gets the same id."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def page_at(self, offset: int) -> int | None:
        """The page an offset falls on, when the format has pages."""
        return normalize.page_at(self.pages, offset)


def iter_files(path: Path) -> Iterator[tuple[Path, bool]]:
    """The path itself, or every file below a directory (sorted, hidden ones left out), each with
    whether its type is one that is read: a directory's other files are skipped, not failed."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path)
            # Hidden files, and the lock files Word (~$report.docx) and LibreOffice keep beside an open document.
            if child.is_file() and not any(p.startswith((".", "~$")) for p in rel.parts):
                yield child, child.suffix.lower() in SUPPORTED
    else:
        yield path, True


def decode_text(data: bytes, name: str) -> str:
    """Bytes to str: UTF-8 (with or without BOM), UTF-16/32 with a BOM, or a confidently detected encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"{name}: undecodable bytes (invalid {encoding.upper()})") from exc
    if b"\x00" in data[:8192] and data.count(b"\x00") > len(data) // 100:
        raise LoadError(f"{name}: binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    sample = data[:200_000]
    matches = from_bytes(sample)
    best = matches.best()
    if best is None or best.chaos > 0.2:
        raise LoadError(f"{name}: undecodable bytes (not UTF-8 or a known text encoding)")
    # Legacy one-byte encodings often fit equally well (French in latin-1 reads as Baltic cp1257,
    # Polish cp1250 as cp1252). A guess would put characters in quotes that the report does not
    # have, so when a close rival reads differently the file is refused with the fix, not guessed.
    guess = sample.decode(best.encoding, errors="replace")
    rivals = sorted({m.encoding for m in matches if m.encoding != best.encoding
                     and m.chaos <= best.chaos + AMBIGUOUS_CHAOS and m.coherence >= best.coherence - AMBIGUOUS_COHERENCE
                     and sample.decode(m.encoding, errors="replace") != guess})
    if rivals:
        raise LoadError(f"{name}: cannot tell the text encoding ({best.encoding} or {rivals[0]}?); save it as UTF-8")
    return data.decode(best.encoding, errors="replace")


def magic(data: bytes) -> str | None:
    """The format the bytes themselves declare, whatever the file's name or the server's content
    type says: a PDF (opening with ``%PDF-``) or a Word document (a zip holding ``word/document.xml``).
    A PDF saved as .txt, or served as octet-stream, is still a PDF."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return None
    return None


def sniff(data: bytes, suffix: str) -> str:
    """The format to read when the bytes declare none (see ``magic``): the extension when it is
    known, else the leading bytes."""
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in (".pdf", ".txt", ".docx"):
        return suffix[1:]
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "pdf"
    if head.startswith(b"pk\x03\x04"):
        return "docx"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if suffix:
        raise LoadError(unsupported(suffix))
    return "txt"


def unsupported(suffix: str) -> str:
    """Why a file of this type is not read."""
    kind = f"file type {suffix}" if suffix else "file without an extension"
    return f"unsupported {kind} (supported: pdf, txt, md, html, docx)"


def load_bytes(data: bytes, name: str, *, kind: str | None = None, url: str | None = None) -> Document:
    """Read one report from bytes; ``name`` is its path or file name, used for errors and dates."""
    suffix = Path(name).suffix.lower() if not url else ""
    try:
        kind = magic(data) or kind or sniff(data, suffix)
    except LoadError as exc:  # every reason names its file, as the CLI and the bot show them one per line
        raise LoadError(f"{name}: {exc}") from None
    if not data.strip():
        raise LoadError(f"{name}: empty file")
    reader = {"md": _markdown, "txt": _plain, "html": _html, "pdf": _pdf, "docx": _docx}[kind]
    doc = reader(data, name)
    if not doc.text.strip():
        raise LoadError(f"{name}: no readable text")
    doc.raw_sha = hashlib.sha256(data).hexdigest()
    doc.url = doc.url or url
    if not doc.date:
        doc.date = parse_date(Path(name).name) or parse_date(dateline(doc.text))
    if not doc.title or _JUNK_TITLE.search(doc.title):
        doc.title = _first_line_title(doc.text) or Path(name).stem
    return doc


def read_file(path: Path, *, max_bytes: int) -> bytes:
    """One file's bytes, refusing anything over ``max_bytes``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"{path}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read ({exc.strerror or exc})") from exc


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes of one input before parsing: from a file, an upload or a URL."""

    data: bytes
    name: str
    kind: str | None
    url: str | None


def _first_line_title(text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    return first if 0 < len(first) <= 160 and not first.endswith((".", ",", ";")) else None


def _plain(data: bytes, name: str) -> Document:
    text, _ = normalize.join([(None, normalize.paragraphs(decode_text(data, name)))])
    return Document(text=text, title="")


def _markdown(data: bytes, name: str) -> Document:
    raw = decode_text(data, name)
    meta: dict[str, object] = {}
    if (m := _FRONT_MATTER.match(raw)) and len(m.group(1)) <= MAX_FRONT_MATTER:
        try:
            loaded = yaml.safe_load(m.group(1))
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:  # "date: 2023-02-30" is a ValueError
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            raise LoadError(f"{name}: bad YAML front matter ({first})") from exc
        if isinstance(loaded, dict):  # else the "---" lines were horizontal rules around text, not metadata
            meta = loaded
            raw = raw[m.end():]
    text, _ = normalize.join([(None, normalize.paragraphs(raw, markdown=True))])
    return Document(
        text=text,
        title=_str_or_none(meta.get("title")) or "",
        publisher=_str_or_none(meta.get("publisher") or meta.get("source")),
        date=parse_date(meta.get("date")),
        url=_str_or_none(meta.get("url") or meta.get("link")),
    )


def _str_or_none(value: object) -> str | None:
    """A scalar as stripped text; lists and mappings are not metadata (and YAML aliases can make them
    exponentially large when printed)."""
    if isinstance(value, str | int | float | Date) and not isinstance(value, bool):
        return str(value).strip()[:1000] or None
    return None


def _html(data: bytes, name: str) -> Document:
    import trafilatura

    raw = decode_text(data, name)
    try:
        doc = trafilatura.bare_extraction(
            raw, with_metadata=True, include_comments=False, include_tables=True, favor_recall=True
        )
    except Exception as exc:  # trafilatura raises assorted lxml errors on broken markup
        raise LoadError(f"{name}: unreadable HTML ({type(exc).__name__})") from exc
    if doc is None or isinstance(doc, dict) or not doc.text:
        raise LoadError(f"{name}: no readable text in the HTML")
    text, _ = normalize.join([(None, normalize.paragraphs(doc.text, lines_are_paragraphs=True))])
    return Document(
        text=text,
        title=(doc.title or "").strip(),
        publisher=doc.sitename or None,
        date=parse_date(doc.date),
        url=doc.url or None,
    )


def _english_word(word: str) -> bool:
    from .embed import default_model_path, vocabulary_words

    try:
        return word in vocabulary_words(default_model_path())
    except ImportError:  # no model package, no word list: the report's own spelling alone decides
        return False


def _pdf(data: bytes, name: str) -> Document:
    import pypdf

    limits = {f"{kind}_maximum_output_length": PDF_STREAM_MAX
              for kind in ("zlib", "lzw", "run_length", "brotli", "jbig2", "array_based_stream")}
    # pypdf >= 7 takes per-call limits; older versions keep their built-in 75 MB per stream.
    configure = getattr(pypdf, "apply_configuration", None)
    deadline = time.monotonic() + PDF_SECONDS
    pages: list[str] = []
    try:
        with configure(**limits) if configure else contextlib.nullcontext():
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoadError(f"{name}: the PDF is locked with a password; load a copy saved without one")
            for page in reader.pages:
                if time.monotonic() > deadline:
                    raise LoadError(f"{name}: PDF text extraction took over {PDF_SECONDS:.0f} s; refusing")
                pages.append(page.extract_text() or "")
            info: Any = reader.metadata or {}
            title, author, created = (str(info.get(k) or "") for k in ("/Title", "/Author", "/CreationDate"))
    except LoadError:
        raise
    except Exception as exc:  # malformed PDFs surface as pypdf, zlib, struct, index and value errors alike
        raise LoadError(f"{name}: corrupt or unreadable PDF ({type(exc).__name__})") from exc
    pages, carried = pdftext.read(pages, _english_word)
    text, marks = normalize.join([(n, normalize.paragraphs(p)) for n, p in enumerate(pages, 1)],
                                 carries_on=lambda page: carried[page - 1])
    if not text:
        raise LoadError(f"{name}: the PDF has no extractable text (scanned images?)")
    return Document(
        text=text,
        title=_str_or_none(title) or "",
        publisher=_str_or_none(author),
        date=parse_date(created),
        pages=marks,
    )


# python-docx's default template carries this creation time, so every document it writes (and the
# report generators built on it) claims it: it says nothing about the report.
_PYTHON_DOCX_TEMPLATE = datetime(2013, 12, 23, 23, 15, tzinfo=UTC)


def _docx(data: bytes, name: str) -> Document:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # declared sizes bound what zipfile will inflate
            unzipped = sum(info.file_size for info in archive.infolist())
        if unzipped > MAX_DOCX_UNZIPPED:
            raise LoadError(f"{name}: .docx expands to {unzipped / 1e6:.0f} MB (limit {MAX_DOCX_UNZIPPED / 1e6:.0f} MB)")
        document = docx.Document(io.BytesIO(data))
        paras = [normalize.clean_line(p) for p in wordfile.paragraphs(document)]
    except LoadError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"{name}: corrupt or unreadable .docx ({type(exc).__name__})") from exc
    except Exception as exc:  # python-docx surfaces lxml and package errors of many kinds
        raise LoadError(f"{name}: unreadable .docx ({type(exc).__name__})") from exc
    kept = [piece for p in paras if p and not normalize.is_debris(p) for piece in normalize.split_long(p)]
    text, _ = normalize.join([(None, kept)])
    try:
        core = document.core_properties
        title, author, created = core.title, core.author, core.created
    except Exception:  # a corrupt docProps/core.xml (python-docx raises AttributeError) costs the metadata only
        title = author = created = None
    return Document(
        text=text,
        title=_str_or_none(title) or "",
        publisher=_str_or_none(author),
        date=created.date().isoformat() if created and created != _PYTHON_DOCX_TEMPLATE else None,
    )
