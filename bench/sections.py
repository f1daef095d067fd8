"""The sections of docs/BENCHMARKS.md after its targets, each a pure function of one run's results
(bench/report.py puts them together)."""

from __future__ import annotations

from typing import Any

SYSTEM_ORDER = ["briefbot", "plain LangChain", "BM25 (1000-char chunks)", "BM25 (paragraphs)"]


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _runs(seconds: list[float]) -> str:
    return " / ".join(f"{x:.1f} s" for x in seconds)


def _ms(x: Any) -> str:
    return "–" if x is None else f"{x:.1f} ms"


def _exact_line(exact: dict[str, Any] | None) -> list[str]:
    """What plain LangChain's figures would be with its collection searched exactly (bench/systems.py)."""
    if not exact:
        return []
    return [f"plain LangChain searches Chroma's approximate HNSW graph (its defaults: ef_search 100), which "
            "misses some true neighbours and is built differently each time the same chunks are added, so its "
            "figures can move by a question or two between runs. The same collection searched exactly (every "
            f"vector compared): hit@1 {exact['hit1']:.3f}, hit@5 {exact['hit5']:.3f}; "
            f"{exact['rank_differs']} of {exact['n']} questions rank their first hit differently there.", ""]


def _system_rows(systems: dict[str, Any], cols: list[tuple[str, str, str]]) -> list[str]:
    head = "| system | " + " | ".join(c[1] for c in cols) + " |"
    out = [head, "|" + "---|" * (len(cols) + 1)]
    for name in [s for s in SYSTEM_ORDER if s in systems] + [s for s in systems if s not in SYSTEM_ORDER]:
        m = systems[name]
        cells = []
        for key, _label, kind in cols:
            v = m.get(key)
            cells.append(_pct(v) if kind == "pct" else _ms(v) if kind == "ms" else _f(v))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def squad(r: dict[str, Any]) -> list[str]:
    """SQuAD-open: every system's figures on the EVAL split."""
    lines: list[str] = []
    sq = r.get("squad")
    if sq:
        lines += [
            "## SQuAD-open",
            "",
            f"{sq['articles_in_store']} SQuAD 2.0 dev articles are ingested, one report each "
            f"({sq['paragraphs']} paragraphs; briefbot: {sq.get('bb_chunks', '?')} chunks, "
            f"{sq.get('bb_sentences', '?')} sentences; LangChain: {sq.get('lc_chunks', '?')} chunks). "
            f"Held out (never ingested): {', '.join(sq['held_out'])}. Reported on the **EVAL split** only "
            "(questions with `int(sha1(id), 16) % 2 == 1`); the TUNING split (even) is for tuning "
            "(`bench.squad.evaluate`).",
            f"Answerable EVAL questions on stored articles: **{sq['n']}**; on held-out articles: "
            f"**{sq['n_heldout']}**.",
            "",
            "A hit: a returned passage overlaps the gold paragraph (located in each system's own text) and "
            "contains a gold answer, case-insensitive. Quote hit@1: the first quote contains a gold answer "
            "(baselines: the first 400 characters of their first passage, what a reader sees first; "
            "\"in a hit\" also requires the first passage to be a hit). Refused questions count as misses; the "
            "\"if answered\" columns leave them out.",
            "",
            *_system_rows(sq["systems"], [
                ("hit1", "hit@1", "f"), ("hit3", "hit@3", "f"), ("hit5", "hit@5", "f"), ("mrr", "MRR@5", "f"),
                ("hit1_answered", "hit@1 if answered", "f"), ("hit5_answered", "hit@5 if answered", "f"),
                ("quote_hit1", "quote hit@1", "f"), ("quote_hit1_in_hit", "quote hit@1 in a hit", "f"),
                ("heldout_refused", "held-out refused", "pct"), ("false_refusal", "false refusals", "pct"),
                ("ms_mean", "mean latency", "ms"),
            ]),
            "",
            f"Gold paragraphs not found in briefbot's canonical text: {sq.get('unlocated', 0)} (questions on them "
            "count as misses).",
            "",
            "For reference, DESIGN.md's anchors (1,000 answerable questions, all 35 articles in the store): plain "
            "LangChain 0.653 / 0.879 / 0.741, bm25s over paragraphs 0.812 / 0.951 / 0.867, dense+bm25 RRF over "
            "paragraphs 0.779 / 0.963 / 0.855 (hit@1 / hit@5 / MRR@5).",
            "",
            *_exact_line(sq.get("lc_exact")),
        ]
    return lines


def isw(r: dict[str, Any]) -> list[str]:
    """ISW: both question sets, each alone, the paired margins and the misses."""
    lines: list[str] = []
    iw = r.get("isw")
    lines += ["## ISW", ""]
    if iw and iw.get("systems"):
        sets = iw.get("sets") or {}
        set_b = f" and {sets['B']['n']} from `tests/data/isw_questions_b.jsonl` (set B)" if "B" in sets else ""
        off_b = " and `offtopic_questions_b.jsonl`" if "B" in sets else ""
        isw_cols = [
            ("hit1", "hit@1", "f"), ("hit3", "hit@3", "f"), ("hit5", "hit@5", "f"), ("mrr", "MRR@5", "f"),
            ("hit5_answered", "hit@5 if answered", "f"),
            ("quote_hit1", "quote hit@1", "f"), ("offtopic_refused", "off-topic refused", "pct"),
            ("false_refusal", "false refusals", "pct"),
        ]
        lines += [
            f"{iw['reports']} reports (the ISW assessments in `../shared/corpus/isw-assessments` and "
            f"`samples/putin-xi-isw-news.txt`); {iw['n']} questions: "
            f"{sets['A']['n'] if 'A' in sets else iw['n']} from `tests/data/isw_questions.jsonl` (set A){set_b}; "
            f"{iw['n_offtopic']} off-topic questions from `tests/data/offtopic_questions.jsonl`{off_b}. "
            "Set B was written later by someone who had not seen the system's answers, one question per report "
            "across the whole period. Neither set was tuned on (tuning used `calibration_*.jsonl` and "
            "`tuning_ontopic.jsonl`).",
            "",
            "A hit: a returned passage contains one of the question's evidence strings after both are normalised "
            "(markdown links/emphasis dropped, comma runs and whitespace collapsed). Quote hit@1: the first quote "
            "contains an evidence string, **or** the quote and an evidence string share a contiguous run of at "
            "least 60% of that evidence string's characters (quotes are capped at 400 characters). Baselines' "
            "quote: the first 400 characters of their first passage. A sentence of the question's own report "
            "that restates an evidence string (a \"Key Takeaways\" copy with a word changed: the two share a run, "
            "in order, of at least 80% of the longer one's words, all words or all but function words; "
            "`bench/isw.py`) counts as evidence too, for every system"
            + (f" (questions with such a restatement: {len(iw['restated'])} of {iw['n']}, "
               + ", ".join(f"`{q}`" for q in iw["restated"]) + ")." if iw.get("restated") else "."),
            "",
            "Both sets together:",
            "",
            *_system_rows(iw["systems"], [*isw_cols, ("ms_mean", "mean latency", "ms")]),
            "",
        ]
        for name in sorted(sets):
            lines += [f"Set {name} alone ({sets[name]['n']} questions, {sets[name]['n_offtopic']} off-topic):", "",
                      *_system_rows(sets[name]["systems"], isw_cols), ""]
        if iw.get("margins"):
            lines += ["briefbot minus each baseline over both sets, per question paired, with a 95% bootstrap "
                      "interval (10,000 resamples): a margin whose interval stays above 0 should survive a new "
                      "question set of this kind.", "", "| baseline | hit@1 | hit@5 |", "|---|---|---|"]
            for name, m in iw["margins"].items():
                cells = [f"{m[k][0]:+.3f} [{m[k][1]:+.3f}, {m[k][2]:+.3f}]" for k in ("hit1", "hit5")]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += [
            "DESIGN.md's ISW anchors come from a different, unpublished question set (plain LangChain 0.58 / 0.77, "
            "bm25s over chunks 0.73 / 0.88 hit@1 / hit@5); compare within these tables.",
            "",
            *_exact_line(iw.get("lc_exact")),
        ]
        if iw.get("missed"):
            lines += ["Questions briefbot misses in its top 5: " + ", ".join(f"`{q}`" for q in iw["missed"]) + ".", ""]
        if iw.get("offtopic_answered"):
            lines += ["Off-topic questions briefbot answered: " + ", ".join(f"`{q}`" for q in iw["offtopic_answered"]) + ".", ""]
    else:
        lines += [f"**Not measured:** {iw.get('reason') if iw else 'skipped'}.", ""]

    return lines


def ingest(r: dict[str, Any]) -> list[str]:
    """Ingest: the ISW corpus from scratch and unchanged, against the model alone."""
    lines: list[str] = []
    ing = r.get("ingest")
    lines += ["## Ingest", ""]
    if ing:
        lines += [
            f"ISW corpus from scratch: {ing['files']} files → {ing['reports']} reports, {ing['chunks']:,} chunks, "
            f"{ing['sentences']:,} sentences (briefbot embeds sentences; a chunk's vector is the length-weighted mean "
            "of its sentences'). The model is loaded and warm before any clock starts. \"Model alone\" is "
            "`SentenceTransformer.encode` of the same texts in one call. "
            + (f"Ingest and the model alone are timed {len(ing['ingest_runs_s'])} times each, in turn (ingest, model "
               "alone, ingest into a fresh store, model alone), and each row shows the faster run of its side "
               "(this machine is shared: one run of either side can be slowed by another process). All runs, wall: "
               f"ingest {_runs(ing['ingest_runs_s'])}; model alone, sentences {_runs(ing['encode_sentences_runs_s'])}; "
               f"chunks {_runs(ing['encode_chunks_runs_s'])}." if ing.get("ingest_runs_s") else ""),
            "",
            "| measurement | wall | process CPU |",
            "|---|---|---|",
            f"| briefbot ingest (load, chunk, embed, write Chroma) | {ing['ingest_s']:.1f} s | {ing['ingest_cpu_s']:.1f} s |",
            f"| model alone: briefbot's {ing['sentences']:,} sentence texts | {ing['encode_sentences_s']:.1f} s | {ing['encode_sentences_cpu_s']:.1f} s |",
            f"| model alone: briefbot's {ing['chunks']:,} chunk texts | {ing['encode_chunks_s']:.1f} s | {ing['encode_chunks_cpu_s']:.1f} s |",
            f"| re-ingest, unchanged ({ing['reingest_unchanged']} of {ing['files']} unchanged) | {ing['reingest_s']:.2f} s | {ing['reingest_cpu_s']:.2f} s |",
            f"| plain LangChain: split + embed + add ({ing['lc_chunks']:,} chunks of 1000 chars) | {ing['lc_ingest_s']:.1f} s | {ing['lc_ingest_cpu_s']:.1f} s |",
            "",
            "| ratio | wall | process CPU |",
            "|---|---|---|",
            f"| ingest / encode of its chunk texts (the issue's figure) | {ing['ingest_s'] / ing['encode_chunks_s']:.2f} | {ing['ingest_cpu_s'] / ing['encode_chunks_cpu_s']:.2f} |",
            f"| ingest / encode of the sentence texts it actually embeds | {ing['ingest_s'] / ing['encode_sentences_s']:.2f} | {ing['ingest_cpu_s'] / ing['encode_sentences_cpu_s']:.2f} |",
            f"| re-ingest unchanged / ingest from scratch | {ing['reingest_s'] / ing['ingest_s']:.4f} | {ing['reingest_cpu_s'] / ing['ingest_cpu_s']:.4f} |",
            f"| plain LangChain ingest / briefbot ingest | {ing['lc_ingest_s'] / ing['ingest_s']:.2f} | {ing['lc_ingest_cpu_s'] / ing['ingest_cpu_s']:.2f} |",
            "",
        ]
    else:
        lines += ["Not measured in this run.", ""]

    return lines


def latency(r: dict[str, Any]) -> list[str]:
    """Query latency and memory at each store size, both systems."""
    lines: list[str] = []
    lat = r.get("latency", {})
    lines += ["## Query latency and memory", ""]
    if lat:
        lines += [
            "Each row is a fresh process that loads the model, opens the store, answers one question (briefbot "
            "builds or loads its keyword index then: \"first answer\"), warms up on 5 more, then times every "
            f"question of a fixed list ({r.get('n_latency_queries', '?')} questions: the ISW and off-topic questions "
            "and SQuAD EVAL questions). briefbot: `Briefbot.ask(q, k=5)`, question to answer object; plain "
            "LangChain: `similarity_search(q, k=5)`. Both include embedding the question: plain LangChain through "
            "sentence-transformers (PyTorch), briefbot through its ONNX Runtime export of the same model "
            "(`index/onnx_questions.py`; vectors equal to within 1e-5).",
            "",
            "| store | system | chunks | p50 | p95 | p50 ratio | p95 ratio | first answer | peak RSS | load avg |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        big_label = f"{((lat.get('100k') or {}).get('briefbot') or {}).get('chunks', 0) // 1000}k chunks, embedded"
        names = {"isw_embedded": "ISW, embedded", "isw_server": "ISW, `chroma run` server", "100k": big_label}
        for where, label in names.items():
            pair = lat.get(where) or {}
            for kind in ("briefbot", "langchain"):
                x = pair.get(kind)
                if not x:
                    continue
                lc = pair.get("langchain")
                ratio50 = f"{x['p50'] / lc['p50']:.2f}" if lc and kind == "briefbot" else ""
                ratio95 = f"{x['p95'] / lc['p95']:.2f}" if lc and kind == "briefbot" else ""
                lines.append(
                    f"| {label} | {'briefbot' if kind == 'briefbot' else 'plain LangChain'} | {x['chunks']:,} | "
                    f"{x['p50']:.1f} ms | {x['p95']:.1f} ms | {ratio50} | {ratio95} | {x['first_query_s']:.2f} s | "
                    f"{x['peak_rss_mb']:,.0f} MB{'' if kind == 'briefbot' else ' ¹'} | {pair.get('load_avg', 0):.1f} |")
        lines += ["", "¹ measured after both systems are loaded in the same process: an upper bound for plain "
                  "LangChain. briefbot's peak RSS is taken before LangChain is loaded, after a full pass of the "
                  "questions. Peak RSS is the serving process's own high-water mark (`VmHWM`; runs before "
                  "2026-12-01 21:00 reported `ru_maxrss`, which Linux carries over from the bench's driver "
                  "process, ~1.4 GB by then). \"load avg\": the machine's 1-minute load average when the process finished."]
        notes = []
        for where, label in names.items():
            x = (lat.get(where) or {}).get("briefbot") or {}
            if x.get("first_pass"):
                notes.append(f"{label}: p50 {x['first_pass']['p50']:.1f} ms / p95 {x['first_pass']['p95']:.1f} ms on "
                             f"the first pass, then {x.get('row_cache_hit_rate', 0):.0%} of candidate rows from the "
                             f"cache in the timed passes ({x.get('row_cache_mb', 0):.0f} MB held); questions "
                             f"encoded by {x.get('question_runtime', '-')}")
        if notes:
            lines += ["", "briefbot keeps the rows (text, sentence spans and vectors) of recent questions' candidate "
                      "chunks in memory (64 MB by default, least recently used out first, emptied when the store "
                      "changes). The untimed pass over every question that precedes the timed ones is the first "
                      "sight of each question, while that cache fills: " + "; ".join(notes) + "."]
        w = (lat.get("100k") or {}).get("during_writes")
        if w and w.get("n"):
            lines += [
                "",
                f"Questions during writes, 100k chunks: while the serving process adds a one-paragraph report and "
                f"then forgets it (what the bot does for an admin's `/add` and `/forget`; each write rebuilds the "
                f"keyword index over every chunk), a thread of the same process asks the latency questions back to "
                f"back. The writes took {' and '.join(f'{x:.1f} s' for x in w['writes_s'])}; the {w['n']} questions "
                f"that overlapped them took p50 {w['p50']:.0f} ms, p95 {w['p95']:.0f} ms, at most {w['max']:.0f} ms. "
                "A question does not wait for a rebuild under way: it is answered from the keyword index of the "
                "generation before, with the reports no longer in the store masked out.",
            ]
        b = r.get("build100k")
        if b:
            lines += [
                "",
                f"The 100k store is the ISW store plus copies of its reports whose chunk and sentence vectors get "
                f"Gaussian noise (σ = {b['sigma']} per dimension, then renormalised; cosine to the original ≈ 0.98) "
                f"until it holds {b['chunks']:,} chunks ({b['sentences']:,} sentence vectors, {b['reports']:,} "
                f"reports), written in briefbot's record layout and committed through the catalog; plain LangChain's "
                f"collection gets {b['lc_chunks']:,} noisy copies of its ISW chunks. Chunk texts are reused, so the "
                "keyword index also holds 100k chunks.",
            ]
        lines.append("")
    else:
        lines += ["Not measured in this run.", ""]

    return lines


def bot(r: dict[str, Any]) -> list[str]:
    """The bot over the fake Bot API: cold start, latency of 20 chats, memory."""
    lines: list[str] = []
    bot = r.get("bot", {})
    lines += ["## Bot", ""]
    if bot.get("p95_ms") is not None:
        think = bot.get("think") or {}
        lines += [
            "`python -m index.cli serve` (the real python-telegram-bot, long polling) in its own process over a copy "
            "of the ISW store, against the test suite's Bot API server on 127.0.0.1 (`tests/bot/fake_bot_api.py`). "
            "Latency is measured at that server: update queued → the bot's `sendMessage` for that chat arrives. "
            f"{bot['chats']} private chats ask {bot['n']} questions in all (the latency question list); each chat "
            "sends its next question as soon as the previous reply arrives (closed loop, no think time: the "
            "harshest reading of \"20 concurrent chats\"), and again with a random think time of 0–2 s. One "
            "warm-up question goes first (it pays for the keyword index; shown separately).",
            "",
            "| measurement | value |",
            "|---|---|",
            f"| cold start: process start → first getUpdates | {bot['cold_start_s']:.1f} s |",
            *([f"| first start on a machine (exports the question model once) | {bot['first_start_s']:.1f} s |"]
              if bot.get("first_start_s") else []),
            f"| first reply after start (builds or loads the keyword index) | {bot.get('first_reply_ms', 0):.0f} ms "
            f"({bot.get('first_reply_after_start_s', 0):.1f} s after process start) |",
            f"| p50 / p95 (mean), 20 chats, closed loop | {bot['closed']['p50']:.0f} / {bot['closed']['p95']:.0f} ms "
            f"({bot['closed'].get('mean', 0):.0f} ms; {bot['closed'].get('replies_per_s', 0):.1f} replies/s) |",
        ]
        if think:
            lines.append(f"| p50 / p95 (mean), 20 chats, 0–2 s think time | {think['p50']:.0f} / {think['p95']:.0f} ms "
                         f"({think.get('mean', 0):.0f} ms; {think.get('replies_per_s', 0):.1f} replies/s) |")
        if bot.get("peak_rss_mb"):
            lines.append(f"| peak RSS of the bot process, ISW store | {bot['peak_rss_mb']:,.0f} MB |")
        big = bot.get("big")
        if big:
            lines += [
                f"| 100k store: cold start → first getUpdates | {big['cold_start_s']:.1f} s |",
                f"| 100k store: first reply (keyword index over 100k chunks) | {big.get('first_reply_ms', 0):.0f} ms |",
                f"| 100k store: p50 / p95 of 20 questions from 20 chats at once | {big['closed']['p50']:.0f} / "
                f"{big['closed']['p95']:.0f} ms |",
                f"| peak RSS of the bot process, 100k store | {big.get('peak_rss_mb') or 0:,.0f} MB |",
            ]
        flood = bot.get("flood_limit")
        if flood:
            floor = bot["chats"] / flood * 1000
            lines += ["", f"The bot keeps to Telegram's flood limit of {flood} messages a second over all chats "
                      "(python-telegram-bot's `AIORateLimiter`: a burst of as many, then that rate). In the closed "
                      f"loop each of the {bot['chats']} chats waits for its reply before asking again, so by Little's "
                      f"law {flood} replies a second mean a wait of about {bot['chats']} / {flood} s = {floor:.0f} ms "
                      "on average, however fast the bot: the 150 ms target cannot be met in that loop by a bot that "
                      "keeps the limit, and the replies/s column shows the loop running at the limit. The think-time "
                      "row is 20 chats asking at a pace the limit allows."]
        lines.append("")
    else:
        lines += [f"**Not measured yet:** {bot.get('reason', 'the bot is not written yet')}.", ""]

    return lines
