"""``briefbot``: ingest, ask, sources, forget, serve. A thin front over the index API."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import BriefbotError
from .progress import IngestProgress
from .settings import Settings
from .types import Answer, Filters

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # a reason stays one line, as grep expects


def _date(value: str) -> str:
    from .dates import parse_date

    parsed = parse_date(value)
    if not parsed:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)")
    return parsed


def parser() -> argparse.ArgumentParser:
    """The command line, one sub-command per verb."""
    p = argparse.ArgumentParser(prog="briefbot", description="Cited answers from your reports.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    def with_store(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--store", type=Path, help="store directory (default: $BRIEFBOT_STORE)")
        return sp

    ing = with_store(sub.add_parser("ingest", help="add or update reports from files, directories or URLs"))
    ing.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    ing.add_argument("--json", action="store_true", help="print the outcome per input as JSON")

    ask = with_store(sub.add_parser("ask", help="ask a question ('-' reads one question per line)"))
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, help="passages to show (default 3)")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--since", type=_date, help="only reports dated on or after YYYY-MM-DD")
    ask.add_argument("--until", type=_date, help="only reports dated on or before YYYY-MM-DD")
    ask.add_argument("--source", help="only reports whose publisher or title contains this")

    src = with_store(sub.add_parser("sources", help="list the reports in the store"))
    src.add_argument("--json", action="store_true")

    fg = with_store(sub.add_parser("forget", help="remove a report by id or path"))
    fg.add_argument("ref", metavar="ID|PATH")

    with_store(sub.add_parser("serve", help="run the Telegram bot"))
    with_store(sub.add_parser("stats", help="store figures"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``briefbot`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.verbose:  # a reader's complaints about a file it still read ("incorrect startxref pointer")
        for name in ("pypdf", "trafilatura", "htmldate", "courlan", "charset_normalizer"):  # are no reason
            logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    if args.store:
        settings.store = args.store
    try:
        if args.command == "serve":
            from bot.app import run

            run(settings)
            return 0
        from .service import Briefbot

        service = Briefbot(settings)
        return int(COMMANDS[args.command](service, args) or 0)
    except BriefbotError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_ingest(service: object, args: argparse.Namespace) -> int:
    """Ingest with a progress bar, then one line per failure and a summary."""
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err, transient=True,
                  disable=args.json or not err.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def progress(p: IngestProgress) -> None:
            bar.update(task, completed=p.done, total=p.total, description=escape(describe(p)))

        summary = service.ingest(args.inputs, progress)  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps([dataclasses.asdict(i) for i in summary.items], ensure_ascii=False))
    else:
        for item in summary.items:
            if item.status == "failed":
                err.print(f"[red]failed[/red] {escape(item.reason or item.source)}")
            elif item.status == "skipped":
                err.print(f"[yellow]skipped[/yellow] {escape(item.reason or item.source)}")
            elif item.status in ("new", "updated"):
                out.print(f"{item.status:8} {item.report_id}  {escape(item.title or '')} ({item.chunks} chunks)")
        out.print(summary.line())
    return 1 if summary.failed else 0


def describe(p: IngestProgress) -> str:
    """The bar's label: the input being read, the sentences being encoded, the keyword index."""
    name = p.what if p.what.startswith(("http://", "https://")) else Path(p.what).name
    name = name if len(name) <= 40 else name[:39] + "…"
    if p.stage == "reading":
        return name
    if p.stage == "embedding":
        return f"embedding {p.encoded:,}/{p.sentences:,} sentences of {name if p.batch == 1 else f'{p.batch} inputs'}"
    return "updating the keyword index" if p.stage == "indexing" else ""


def cmd_ask(service: object, args: argparse.Namespace) -> int:
    """One question, or one per stdin line with ``-``; JSON lines or rich text."""
    filters = Filters(args.since, args.until, args.source)
    questions = (line.strip() for line in sys.stdin) if args.question == "-" else iter([args.question])
    for q in questions:
        if not q:
            continue
        try:
            answer = service.ask(q, k=args.k, filters=filters)  # type: ignore[attr-defined]
        except BriefbotError as exc:
            if args.question != "-":
                raise
            print(json.dumps({"question": q, "answered": False, "message": str(exc), "error": True,
                              "took_ms": 0, "passages": []}, ensure_ascii=False), flush=True)
            continue
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            show(answer)
    return 0


def show(answer: Answer) -> None:
    """Numbered passages: the quote bold inside its passage, then title, date and link."""
    if not answer.answered:
        out.print(answer.message)
        return
    if answer.note:  # how a period was read, "From the latest reports: …", which report a digest is of
        out.print(f"[italic]{escape(answer.note)}[/italic]\n")
    for n, p in enumerate(answer.passages, 1):
        before = p.text[: p.quote_start - p.start]
        after = p.text[p.quote_end - p.start:]
        out.print(f"[bold cyan]{n}.[/bold cyan] {escape(before)}[bold]{escape(p.quote)}[/bold]{escape(after)}")
        where = ", ".join(x for x in (p.title, p.date, f"p. {p.page}" if p.page else None) if x)
        link = p.url or p.path or ""
        out.print(f"   [dim]— {escape(where)}[/dim]" + (f"  [link={escape(link)}]{escape(link)}[/link]" if link else ""))
        out.print()


def cmd_sources(service: object, args: argparse.Namespace) -> int:
    """The reports in the store, newest first."""
    reports = service.sources()  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps([r.to_json() for r in reports], ensure_ascii=False))
        return 0
    table = Table("id", "date", "title", "chunks")
    for r in reports:
        table.add_row(r.report_id, r.date or "", escape(r.title), str(r.chunks))
    out.print(table)
    out.print(f"{len(reports)} reports")
    return 0


def cmd_forget(service: object, args: argparse.Namespace) -> int:
    """Remove one report everywhere."""
    info = service.forget(args.ref)  # type: ignore[attr-defined]
    out.print(f"forgot {info.report_id}  {escape(info.title)}")
    return 0


def cmd_stats(service: object, args: argparse.Namespace) -> int:
    """Store and question figures as JSON."""
    print(json.dumps(service.stats()))  # type: ignore[attr-defined]
    return 0


COMMANDS = {"ingest": cmd_ingest, "ask": cmd_ask, "sources": cmd_sources, "forget": cmd_forget, "stats": cmd_stats}

if __name__ == "__main__":
    sys.exit(main())
