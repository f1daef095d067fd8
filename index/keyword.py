"""The keyword side of hybrid search: a bm25s index derived from the chunk texts Chroma stores.

Chroma's own sparse index only runs in Chroma Cloud, so this index is ours. Its scores are a pure
function of the store at one generation: any process can rebuild it, and a disk cache keyed by that
generation only makes the rebuild skippable (and keeps the tokens the next generation's build reuses).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .recent import RECENT

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"\w+")
# bm25s ships Lucene's 33 English stop words; questions also lean on question words, auxiliaries
# and pronouns, which would otherwise count as rare, highly weighted terms in small stores.
_STOP = frozenset(bm25s.stopwords.STOPWORDS_EN) | frozenset(
    "what which who whom whose when where why how did does do doing done has have had having am been being "
    "can could would should will shall might must about any many much some more most also than so just very "
    "i me my we our us you your he him his she her its they them their this these those here there all both "
    "each few other such only own same too into over under again further then once say said says tell told "
    "know known".split()
)
# Words that frame a request for news rather than name its subject ("What is the latest on Kherson?",
# "What's happening in Bakhmut now?"), and the pieces of contractions. Reports seldom use them, so
# their IDF is high and a question holding one looked barely covered by every passage: 0.19 of its
# weight for the best Kherson passage, and the support gate refused it. Dropped from questions only;
# reports keep every word.
FRAMING = frozenset(
    "latest newest lately recent recently currently now today new news update updates updated happening "
    "happen happened happens going anything s t d ll re ve m didn doesn don isn wasn aren weren hasn haven "
    "hadn couldn wouldn shouldn".split()
)
_stemmer = Stemmer.Stemmer("english")
# A question word that is not a word of the model's vocabulary and that no chunk holds (a typo, or a
# name spelt another way: "Kharkov" where the reports write "Kharkiv", "Prigozin") stands for the
# most frequent indexed word one edit from its stem, seen in at least SPELLING_MIN_DF chunks. Without
# the vocabulary check, real words were taken for typos ("relief" for "belief", "hollow" for
# "follow"); a word some chunk holds stays, as names do ("Avril" Haines is no "April").
SPELLING_MIN = 5
SPELLING_MIN_DF = 2


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-worded, Snowball-stemmed word tokens."""
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in _STOP and len(w) < 40]


def question_words(question: str) -> list[tuple[str, str]]:
    """``(word, token)`` for each word of a question ``tokenize`` keeps, but those that only frame it
    (see FRAMING) or ask for the newest reporting ("these days", "the past few days": recent.RECENT)."""
    return [(w, _stem(w)) for w in _TOKEN.findall(RECENT.sub(" ", question).lower())
            if w not in _STOP and w not in FRAMING and len(w) < 40]


def question_tokens(question: str) -> list[str]:
    """The tokens of ``question_words``."""
    return [token for _, token in question_words(question)]


@lru_cache(maxsize=8192)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of a text; cached, as the same chunks come back question after question."""
    return frozenset(_stem(w) for w in set(_TOKEN.findall(text.lower())) if w not in _STOP and len(w) < 40)


class KeywordIndex:
    """BM25 over chunks; ``scores`` returns one score per chunk id in ``ids`` order."""

    def __init__(self, ids: list[str], report_ids: list[str], bm25: bm25s.BM25 | None, doc_freq: dict[str, int],
                 tokens: tuple[list[array[int]], list[str], dict[str, str]] | None = None):
        self.ids = ids
        self.report_ids = list(report_ids)
        # Each chunk's report as a small integer, so a set of reports becomes a chunk mask in O(chunks).
        self._reports = {rid: n for n, rid in enumerate(dict.fromkeys(report_ids))}
        self._report_of = np.fromiter((self._reports[r] for r in report_ids), dtype=np.int32, count=len(report_ids))
        self.position = {cid: n for n, cid in enumerate(ids)}
        self._bm25 = bm25
        self._df = doc_freq
        self._tokens = tokens  # (corpus, vocabulary, report keys): for ``save``, which drops them
        self._vocabulary: list[str] | None = None  # tokens a misspelt question word may stand for

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, str]]) -> KeywordIndex:
        """Index ``(chunk id, report id, text)`` rows."""
        listed = list(rows)
        texts = {cid: text for cid, _, text in listed}
        return cls.update([cid for cid, _, _ in listed], [rid for _, rid, _ in listed], {},
                          lambda need: ((cid, texts[cid]) for cid in need), None)

    @classmethod
    def update(cls, ids: Sequence[str], report_ids: Sequence[str], report_keys: Mapping[str, str],
               read: Callable[[list[str]], Iterable[tuple[str, str]]], base_dir: Path | None) -> KeywordIndex:
        """Index the chunks ``ids`` (of ``report_ids``), reusing the tokens saved in ``base_dir`` (an
        earlier index's cache) for the chunks of reports whose key (``report_keys``) is unchanged;
        ``read(ids)`` yields ``(id, text)`` of the rest, in order (a chunk it skips is left out). It
        scores every query as an index built from every text afresh does.
        """
        vocab: dict[str, int] = {}
        words: list[str] = []
        base = Tokens.load(base_dir / "tokens") if base_dir is not None else None
        if base is not None:
            words = list(base.vocab)
            vocab = {w: n for n, w in enumerate(words)}
            position = {cid: n for n, cid in enumerate(base.ids)}
            kept = {rid for rid, key in base.reports.items() if report_keys.get(rid) == key}
            reuse = [position.get(cid) if rid in kept else None for cid, rid in zip(ids, report_ids, strict=True)]
        else:
            reuse = [None] * len(ids)
        fresh = iter(read([cid for cid, n in zip(ids, reuse, strict=True) if n is None]))
        pending = next(fresh, None)
        # Each chunk's tokens as vocabulary ids in a 4-byte array, handed to bm25s with the
        # vocabulary: a third of the memory of lists of token strings (~270 MB less at 100k chunks).
        corpus: list[array[int]] = []
        kept_ids: list[str] = []
        kept_rids: list[str] = []
        for cid, rid, n in zip(ids, report_ids, reuse, strict=True):
            if n is not None:
                assert base is not None
                corpus.append(array("I", base.flat[base.offsets[n]:base.offsets[n + 1]].tobytes()))
            elif pending is not None and pending[0] == cid:
                corpus.append(array("I", [vocab.setdefault(t, len(vocab)) for t in tokenize(pending[1])]))
                pending = next(fresh, None)
            else:  # not read: forgotten since it was listed (the search that raced it is repeated)
                continue
            kept_ids.append(cid)
            kept_rids.append(rid)
        words.extend(list(vocab)[len(words):])
        base = None  # its memory back before bm25s builds
        corpus, words, df = _live_vocabulary(corpus, words)
        bm25 = None
        if words:
            bm25 = ArrayBM25()
            bm25.index((corpus, {w: n for n, w in enumerate(words)}), show_progress=False)
        reports = {rid: report_keys.get(rid, "") for rid in kept_rids}
        return cls(kept_ids, kept_rids, bm25, df, (corpus, words, reports))

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query tokens."""
        if self._bm25 is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def in_reports(self, report_ids: AbstractSet[str]) -> np.ndarray:
        """A boolean mask over chunks: True where the chunk's report is in ``report_ids``."""
        wanted = np.zeros(len(self._reports), dtype=bool)
        wanted[[n for rid, n in self._reports.items() if rid in report_ids]] = True
        return wanted[self._report_of]

    def spelled(self, words: Sequence[tuple[str, str]], known: AbstractSet[str]) -> list[str]:
        """The tokens of ``(word, token)`` pairs, an unindexed token of a word not ``known`` (not an
        English word) replaced by the closest frequent indexed token (see SPELLING_MIN)."""
        out = []
        for word, token in words:
            if not known or word in known or token in self._df or len(token) < SPELLING_MIN or not word.isalpha():
                out.append(token)
                continue
            if self._vocabulary is None:
                self._vocabulary = [w for w, df in self._df.items() if df >= SPELLING_MIN_DF and w.isalpha()]
            near = [(w, d) for w, d, _ in process.extract(token, self._vocabulary, scorer=Levenshtein.distance,
                                                            limit=20, score_cutoff=1)]
            out.append(min(near, key=lambda m: (m[1], -self._df[m[0]]))[0] if near else token)
        return out

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token over chunks (BM25's smoothed form)."""
        n = len(self.ids)
        df = self._df.get(token, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    # --- cache -----------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index so a restart at the same generation skips the rebuild."""
        tokens, self._tokens = self._tokens, None  # kept only until saved, or not
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps({"ids": self.ids, "rids": self.report_ids, "df": self._df}))
        if tokens is not None:
            corpus, words, reports = tokens
            Tokens.of(self.ids, words, corpus, reports).save(tmp / "tokens")
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex | None:
        """A saved index, or None when absent or unreadable (then the caller rebuilds)."""
        try:
            meta = json.loads((directory / "meta.json").read_text())
            bm25 = None
            if meta["ids"]:
                bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False, verbosity=0)
            return cls(meta["ids"], meta["rids"], bm25, meta["df"])
        except (OSError, ValueError, KeyError) as exc:
            log.info("keyword cache at %s unusable (%s); rebuilding", directory, type(exc).__name__)
            return None


class ArrayBM25(bm25s.BM25):  # type: ignore[misc]  # bm25s ships no type hints
    """bm25s's BM25, its score matrix built by array operations over all chunks at once.

    bm25s builds it in Python, a ``Counter`` and a set intersection per chunk: 9 of the 10 s that
    rebuilding the index after an ``/add`` took at 100k chunks. ``build_index_from_ids`` is the
    hook bm25s documents for building the index another way; this one returns the same matrix
    (Lucene's BM25, bm25s's default) for corpora of ``array("I")`` token ids, as ``update`` makes,
    and leaves everything else (scoring, saving, loading) to bm25s.
    """

    def build_index_from_ids(self, unique_token_ids: list[int], corpus_token_ids: Sequence[Sequence[int]],
                             show_progress: bool = True, leave_progress: bool = False) -> dict[str, Any]:
        docs = [doc for doc in corpus_token_ids if isinstance(doc, array) and doc.typecode == "I"]
        if self.method != "lucene" or self.idf_method not in (None, "lucene") or len(docs) < len(corpus_token_ids):
            built: dict[str, Any] = super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress,
                                                                 leave_progress)
            return built
        self.nonoccurrence_array = None  # only BM25L and BM25+ have one
        n_docs, n_vocab = len(docs), len(unique_token_ids)
        lengths = np.fromiter((len(doc) for doc in docs), dtype=np.int64, count=n_docs)
        # One key per token, word-major (word x chunks + chunk), sorted: each (word, chunk) pair is
        # a run, its length the word's count in the chunk, and the runs come in bm25s's column order.
        keys = np.frombuffer(b"".join(doc.tobytes() for doc in docs), dtype=np.uint32).astype(np.int64)
        keys *= n_docs
        keys += np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
        keys.sort()
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else keys
        tf = np.diff(starts, append=len(keys)).astype(np.float32)
        keys = keys[starts]
        del starts
        word = (keys // n_docs).astype(np.int32)
        keys -= word * np.int64(n_docs)  # now each pair's chunk
        df = np.bincount(word, minlength=n_vocab)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(self.dtype)
        avg = float(lengths.mean()) if n_docs else 0.0
        data = np.empty(len(keys), dtype=self.dtype)
        step = 1 << 20  # in slices: float64 temporaries over the whole matrix are ~70 MB each at 100k chunks
        for s in range(0, len(keys), step):
            t, d, w = tf[s:s + step], keys[s:s + step], word[s:s + step]
            data[s:s + step] = idf[w] * (t / (self.k1 * ((1 - self.b) + self.b * lengths[d] / avg) + t))
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return {"data": data, "indices": keys.astype(self.int_dtype), "indptr": indptr, "num_docs": n_docs}


@dataclass(frozen=True, slots=True)
class Tokens:
    """Every chunk's tokens as vocabulary ids, saved beside the index it built, so the next
    generation's build reads and tokenises only chunks it has not seen. At 100k chunks those two
    steps are ~16 s of a full build: the index after adding one report took 10.6 s instead of 26.1 s."""

    ids: list[str]
    vocab: list[str]
    flat: np.ndarray  # uint32: chunk n's tokens are flat[offsets[n]:offsets[n + 1]]
    offsets: np.ndarray
    reports: dict[str, str]  # report id -> the key of the catalog record its chunks were read with

    @classmethod
    def of(cls, ids: list[str], vocab: list[str], corpus: Sequence[array[int]], reports: dict[str, str]) -> Tokens:
        flat = np.frombuffer(b"".join(a.tobytes() for a in corpus), dtype=np.uint32)
        offsets = np.zeros(len(corpus) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in corpus], out=offsets[1:])
        return cls(ids, vocab, flat, offsets, reports)

    def save(self, directory: Path) -> None:
        directory.mkdir()
        np.save(directory / "flat.npy", self.flat)
        np.save(directory / "offsets.npy", self.offsets)
        (directory / "meta.json").write_text(json.dumps({"ids": self.ids, "vocab": self.vocab, "reports": self.reports}))

    @classmethod
    def load(cls, directory: Path) -> Tokens | None:
        """Tokens a saved index was built from, or None when absent or unreadable (then all are read)."""
        try:
            meta = json.loads((directory / "meta.json").read_text())
            flat, offsets = np.load(directory / "flat.npy"), np.load(directory / "offsets.npy")
            if len(offsets) != len(meta["ids"]) + 1 or (len(flat) and int(flat.max()) >= len(meta["vocab"])):
                raise ValueError("tokens and their index disagree")
            return cls(meta["ids"], meta["vocab"], flat, offsets, meta["reports"])
        except (OSError, ValueError, KeyError) as exc:
            log.info("saved tokens at %s unusable (%s); reading every chunk", directory, type(exc).__name__)
            return None


def _live_vocabulary(corpus: list[array[int]], words: list[str]) -> tuple[list[array[int]], list[str], dict[str, int]]:
    """Each word's document frequency, with words no chunk holds any more (those of forgotten
    reports) dropped from the vocabulary and the token ids renumbered to match. Scores do not depend
    on how the vocabulary is numbered, so this is the index a build from the texts alone makes."""
    flat = np.frombuffer(b"".join(a.tobytes() for a in corpus), dtype=np.uint32)
    if not len(flat):  # no chunks, or only chunks without a word that counts
        return corpus, [], {}
    lengths = np.fromiter((len(a) for a in corpus), dtype=np.int64, count=len(corpus))
    # (chunk, word) pairs, each counted once: sorted, then deduplicated (faster here than np.unique).
    pairs = np.repeat(np.arange(len(corpus), dtype=np.int64), lengths)
    pairs *= len(words)  # in place: at 100k chunks each copy is ~70 MB
    pairs += flat
    pairs.sort()
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    counts = np.bincount(pairs % len(words), minlength=len(words))
    live = counts > 0
    if not live.all():
        remap = (np.cumsum(live) - 1).astype(np.uint32)
        ends = np.cumsum(lengths).tolist()
        flat = remap[flat]
        corpus = [array("I", flat[e - n:e].tobytes()) for e, n in zip(ends, lengths.tolist(), strict=True)]
        words = [w for w, keep in zip(words, live.tolist(), strict=True) if keep]
        counts = counts[live]
    return corpus, words, dict(zip(words, counts.tolist(), strict=True))


class Terms:
    """A question's distinct terms and their IDF weights, computed once for the many texts it is matched against."""

    def __init__(self, question_tokens: Sequence[str], keyword: KeywordIndex) -> None:
        self.weights = {t: keyword.idf(t) for t in set(question_tokens)}
        self.total = sum(self.weights.values())

    def coverage(self, text: str, also: frozenset[str] = frozenset()) -> float:
        """Share of the question's IDF mass whose terms occur in ``text`` or in ``also`` (0..1)."""
        if not self.total:
            return 0.0
        present = token_set(text) | also if also else token_set(text)
        return sum(w for t, w in self.weights.items() if t in present) / self.total

