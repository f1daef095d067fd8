"""Sentences and chunks as offsets into the canonical text, sized for the model's window."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sentencex

# A chunk's vector is the mean of its sentences' vectors (each sentence fits MiniLM's 256-piece
# window on its own), so chunk size is free of the window: 200 words (~1,100 chars) gave better
# hit@1 than 150 on the ISW calibration questions (0.558 vs 0.538) and keeps a readable passage.
CHUNK_WORDS = 200
# Paragraphs shorter than this (headings, list items, captions) are packed with their neighbours
# so that no vector is built from a bare heading: those ahead of a paragraph too long to join lead
# its first chunk. (Before, ISW had 45 chunks under 150 characters, most a bare title or section
# heading; now 9, each a report's closing sentence.)
MIN_WORDS = 80
# Sentences longer than this are cut at word boundaries so each piece fits the window.
MAX_SENTENCE_WORDS = 120
# Each sentence costs one embedding. Prose has <= 12 sentences per 200-word chunk; a chunk of
# "a! a! a! ..." or a run of one-word list items would have hundreds, so runs of consecutive
# sentences are merged into at most this many groups (each group is then embedded and quoted as one).
MAX_SENTENCES = 20
# A "word" of more than this many characters (a URL, a base64 blob, text without spaces) counts as
# several when sizing chunks, so a spaceless megabyte cannot become one giant chunk.
CHARS_PER_WORD = 12

# Longest piece handed to the sentence splitter at once (see ``_windows``).
SPLITTER_WINDOW = 2500

_WORD = re.compile(r"\S+")
_PARA_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A contiguous span of the canonical text made of whole sentences."""

    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


def words(text: str) -> int:
    """Whitespace-separated word count."""
    return len(_WORD.findall(text))


def size(text: str) -> int:
    """Chunk-sizing weight of a sentence: its words, or its length in CHARS_PER_WORD if that is more."""
    return max(words(text), len(text) // CHARS_PER_WORD)


def _merge_excess(sents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most MAX_SENTENCES spans, merging runs of consecutive sentences into nearly equal groups."""
    if len(sents) <= MAX_SENTENCES:
        return sents
    per = math.ceil(len(sents) / MAX_SENTENCES)
    return [(sents[i][0], sents[min(i + per, len(sents)) - 1][1]) for i in range(0, len(sents), per)]


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph, trimmed of surrounding whitespace."""
    spans = []
    pos = 0
    for m in [*_PARA_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        s, e = _trim(text, pos, end)
        if e > s:
            spans.append((s, e))
        if m:
            pos = m.end()
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence ``(start, end)`` spans inside ``text[start:end]`` (sentencex, rule based)."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for w_start, w_end in _windows(text, start, end):
        for b in sentencex.get_sentence_boundaries("en", text[w_start:w_end]):
            s, e = _trim(text, w_start + int(b["start_index"]), w_start + int(b["end_index"]))
            if e > s:
                spans.extend(_split_long(text, s, e))
    return spans or ([_trim(text, start, end)] if text[start:end].strip() else [])


def _windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into pieces of at most SPLITTER_WINDOW characters, each ending after a
    sentence-final mark where the last fifth of the window has one, else after a space.

    sentencex takes time worse than quadratic in a piece without sentence ends (10,000 characters of
    a hostile pattern: 0.3 s). Real paragraphs rarely come near this (ISW's longest is 2,457; 140 of
    141 ISW and SQuAD texts split exactly as when passed whole), and hostile text costs linear time.
    """
    out = []
    while end - start > SPLITTER_WINDOW:
        limit = start + SPLITTER_WINDOW
        floor = limit - SPLITTER_WINDOW // 5
        cut = max(text.rfind(mark, floor, limit) for mark in (". ", "? ", "! ", ".\n"))
        cut = cut + 2 if cut >= 0 else text.rfind(" ", floor, limit) + 1
        if cut <= start:
            cut = limit
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    found = [piece for m in _WORD.finditer(text, start, end) for piece in _pieces(*m.span())]
    if len(found) <= MAX_SENTENCE_WORDS:
        return [(start, end)]
    parts = math.ceil(len(found) / MAX_SENTENCE_WORDS)
    size = math.ceil(len(found) / parts)
    return [(found[i][0], found[min(i + size, len(found)) - 1][1]) for i in range(0, len(found), size)]


def _pieces(start: int, end: int) -> list[tuple[int, int]]:
    """A word, or a spaceless run longer than 4 words' worth of characters cut into word-sized pieces."""
    if end - start <= 4 * CHARS_PER_WORD:
        return [(start, end)]
    return [(i, min(i + CHARS_PER_WORD, end)) for i in range(start, end, CHARS_PER_WORD)]


def chunk_text(text: str) -> list[Chunk]:
    """Pack sentences into chunks: whole paragraphs when they fit, balanced splits when not."""
    chunks: list[Chunk] = []
    pending: list[tuple[int, int]] = []  # sentences of short paragraphs waiting for company
    pending_words = 0

    def emit(sents: list[tuple[int, int]]) -> None:
        if sents:
            chunks.append(Chunk(sents[0][0], sents[-1][1], tuple(_merge_excess(sents))))

    for p_start, p_end in paragraph_spans(text):
        sents = sentence_spans(text, p_start, p_end)
        counts = [size(text[s:e]) for s, e in sents]
        total = sum(counts)
        if pending and pending_words + total > CHUNK_WORDS:
            if pending_words < MIN_WORDS:  # a heading (or the title) leads the text that follows it
                sents, counts = pending + sents, [size(text[s:e]) for s, e in pending] + counts
                total += pending_words
            else:
                emit(pending)
            pending, pending_words = [], 0
        if total < MIN_WORDS or (pending and pending_words + total <= CHUNK_WORDS):
            pending.extend(sents)
            pending_words += total
            if pending_words >= MIN_WORDS:
                emit(pending)
                pending, pending_words = [], 0
            continue
        if total <= CHUNK_WORDS:
            emit(sents)
            continue
        # A long paragraph: split into n nearly equal runs of whole sentences.
        n = math.ceil(total / CHUNK_WORDS)
        target = total / n
        run: list[tuple[int, int]] = []
        run_words = 0
        for span, count in zip(sents, counts, strict=True):
            if run and run_words + count > target * 1.15 and run_words >= target * 0.5:
                emit(run)
                run, run_words = [], 0
            run.append(span)
            run_words += count
        emit(run)
    emit(pending)
    return chunks
