"""What the catalog holds, as read at one generation: report records and the sources that point at them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import normalize


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A committed report as the catalog holds it."""

    report_id: str
    title: str
    publisher: str | None
    date: str | None
    url: str | None
    path: str | None
    chunks: int
    chars: int
    added_at: float
    pages: tuple[tuple[int, int], ...] = ()
    sentences: int = 0

    def page_at(self, offset: int) -> int | None:
        """The page an offset falls on, for formats with pages."""
        return normalize.page_at(self.pages, offset)


@dataclass(slots=True)
class Catalog:
    """Reports and sources at one generation; ``visible`` are reports some source points at."""

    generation: str
    reports: dict[str, ReportRecord] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # source key -> record
    _visible: frozenset[str] | None = field(default=None, repr=False, compare=False)
    _by_date: dict[str | None, list[str]] | None = field(default=None, repr=False, compare=False)

    @property
    def visible(self) -> frozenset[str]:
        """Report ids a search may return (computed once: a snapshot is not changed once read)."""
        if self._visible is None:
            self._visible = frozenset({s["report_id"] for s in self.sources.values()} & self.reports.keys())
        return self._visible

    def dated(self, keep: Callable[[str | None], bool]) -> set[str]:
        """Visible reports whose date ``keep`` accepts, testing each distinct date once (a store of
        daily reports holds far fewer dates than reports)."""
        if self._by_date is None:
            self._by_date = {}
            for rid in self.visible:
                self._by_date.setdefault(self.reports[rid].date, []).append(rid)
        return {rid for date, rids in self._by_date.items() if keep(date) for rid in rids}

    def sources_of(self, report_id: str) -> list[str]:
        """Source keys (paths or urls) that point at a report."""
        return sorted(k for k, s in self.sources.items() if s["report_id"] == report_id)


def record_of(meta: dict[str, Any]) -> ReportRecord:
    """A report record as the catalog's metadata stores it."""
    return ReportRecord(
        report_id=meta["report_id"], title=meta.get("title", ""), publisher=meta.get("publisher") or None,
        date=meta.get("date") or None, url=meta.get("url") or None, path=meta.get("path") or None,
        chunks=int(meta.get("chunks", 0)), chars=int(meta.get("chars", 0)),
        added_at=float(meta.get("added_at", 0.0)),
        pages=tuple(tuple(p) for p in json.loads(meta.get("pages") or "[]")),
        sentences=int(meta.get("sentences", 0)),
    )
