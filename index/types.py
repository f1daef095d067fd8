"""Citations are data: frozen records that the CLI, the bot and LangChain all render."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Tests and fronts assert on this exact text; change it here only.
REFUSAL = "The reports in the store don't say. No passage supports an answer to that question."
EMPTY = "The store holds no reports yet, so there is nothing to answer from: reports must be added first."
# Added to a refusal of a question written mostly in another script than Latin ("Что пообещал Си?"):
# the embedding model reads English, so such a question rarely matches anything but its own words.
IN_ENGLISH = "Questions are matched in English; try asking in English."


@dataclass(frozen=True, slots=True)
class Passage:
    """One cited passage: ``text == canonical[start:end]``, ``quote == canonical[quote_start:quote_end]``."""

    report_id: str
    title: str
    publisher: str | None
    date: str | None  # YYYY-MM-DD
    url: str | None
    path: str | None
    page: int | None
    start: int
    end: int
    text: str
    quote: str
    quote_start: int
    quote_end: int
    score: float
    chunk_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape (fields may be added, never renamed)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """What ``ask`` returns: passages, or ``answered=False`` with the refusal message."""

    question: str
    answered: bool
    message: str
    took_ms: float
    passages: tuple[Passage, ...] = ()
    support: float = 0.0  # the refusal gate's probability that the store supports an answer
    # What the passages are when they are not the best matches in all the reports: "From the latest
    # reports: …", or a digest's "The opening passages of the newest report, …" (1.0 support: no gate).
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape of ``briefbot ask --json``."""
        return {
            "question": self.question,
            "answered": self.answered,
            "message": self.message,
            "took_ms": round(self.took_ms, 2),
            "passages": [p.to_json() for p in self.passages],
            "support": self.support,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """One report in the store, as ``briefbot sources --json`` lists it."""

    report_id: str
    title: str
    publisher: str | None
    date: str | None
    path: str | None
    url: str | None
    chunks: int
    chars: int = 0
    added_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape of one ``sources`` entry."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Filters:
    """Search restrictions: report date range (inclusive) and a publisher/title substring."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    # A question's own "since April 2023": dated reports before it are out, undated ones stay (what
    # they cover is unknown, and "since 1990" in a reference text is about its content).
    after: str | None = None

    @property
    def active(self) -> bool:
        """True when any restriction is set."""
        return bool(self.since or self.until or self.source or self.after)


@dataclass(slots=True)
class IngestItem:
    """The outcome for one input of an ingest run."""

    source: str
    status: str  # new | updated | unchanged | failed | duplicate | skipped (a directory's file of a type not read)
    report_id: str | None = None
    title: str | None = None
    chunks: int = 0
    reason: str | None = None


@dataclass(slots=True)
class IngestSummary:
    """All outcomes of one ingest run, in input order."""

    items: list[IngestItem] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many inputs ended with ``status``."""
        return sum(1 for i in self.items if i.status == status)

    @property
    def failed(self) -> bool:
        """True when any input failed."""
        return self.count("failed") > 0

    def line(self) -> str:
        """A one-line summary: new / updated / unchanged / failed, and skipped when some were."""
        skipped = self.count("skipped")
        return (
            f"{self.count('new')} new, {self.count('updated')} updated, "
            f"{self.count('unchanged') + self.count('duplicate')} unchanged, {self.count('failed')} failed"
            + (f", {skipped} skipped (types not read)" if skipped else "")
        )
