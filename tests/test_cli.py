"""The ``briefbot`` command as a user runs it: a real subprocess over a temp store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from index import EMPTY, REFUSAL
from tests.conftest import SAMPLES
from tests.helpers import write_md, write_pdf


def briefbot(*args: str, store: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    env.update(BRIEFBOT_MODEL="hash", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "index.cli", *args, "--store", str(store)],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_ingest_ask_sources_forget(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = briefbot("ingest", str(SAMPLES), store=store)
    assert done.returncode == 0, done.stderr
    assert "1 new, 0 updated, 0 unchanged, 0 failed" in done.stdout

    again = briefbot("ingest", str(SAMPLES), store=store)
    assert "0 new, 0 updated, 1 unchanged, 0 failed" in again.stdout

    asked = briefbot("ask", "--json", "Xi praised Putin UNSC commitment", store=store)
    data = json.loads(asked.stdout)
    assert data["answered"] is True and data["question"] == "Xi praised Putin UNSC commitment"
    p = data["passages"][0]
    assert p["quote"] in p["text"] and p["date"] is None and p["path"].endswith("putin-xi-isw-news.txt")

    listed = json.loads(briefbot("sources", "--json", store=store).stdout)
    assert [set(r) >= {"report_id", "title", "publisher", "date", "path", "url", "chunks"} for r in listed] == [True]

    gone = briefbot("forget", listed[0]["report_id"], store=store)
    assert gone.returncode == 0 and json.loads(briefbot("sources", "--json", store=store).stdout) == []


def test_ask_reads_questions_from_stdin(tmp_path: Path) -> None:
    store = tmp_path / "store"
    briefbot("ingest", str(SAMPLES), store=store)
    done = briefbot("ask", "--json", "-", store=store, stdin="Xi praised Putin\n\n" + "x" * 5000 + "\nUNSC veto\n")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["question"][:8] for line in lines] == ["Xi prais", "x" * 8, "UNSC vet"]
    assert lines[1]["answered"] is False and "limit" in lines[1]["message"]


def test_failed_input_gives_exit_1_and_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7 broken")
    good = write_md(tmp_path / "good.md", "A real paragraph about the harvest in Ukraine this year.", title="Harvest")
    done = briefbot("ingest", str(tmp_path / "bad.pdf"), str(good), store=tmp_path / "store")
    assert done.returncode == 1
    assert "bad.pdf" in done.stderr and "1 new, 0 updated, 0 unchanged, 1 failed" in done.stdout


def test_a_directory_lists_the_files_it_skips(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "deck").mkdir(parents=True)
    write_md(reports / "good.md", "A real paragraph about the harvest in Ukraine this year.", title="Harvest")
    (reports / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    (reports / "deck" / "slides.pptx").write_bytes(b"PK\x03\x04" + bytes(100))
    (reports / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: not a report, not worth a line
    (reports / "~$old.docx").write_bytes(b"\x05Ann  ")  # Word's lock file beside an open document: the same
    store = reports / "briefbot-store"  # the store inside the directory: neither read nor listed
    briefbot("ingest", str(reports / "good.md"), store=store)
    done = briefbot("ingest", str(reports), store=store)
    assert done.returncode == 0, done.stderr  # skipping is not failing
    assert "0 new, 0 updated, 1 unchanged, 0 failed, 2 skipped (types not read)" in done.stdout
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert skipped == [f"skipped {reports / 'deck' / 'slides.pptx'}: unsupported file type .pptx (supported: pdf, "
                       "txt, md, html, docx)",
                       f"skipped {reports / 'old.doc'}: unsupported file type .doc (supported: pdf, txt, md, "
                       "html, docx)"]  # each on one line, whatever the terminal's width
    listed = json.loads(briefbot("ingest", "--json", str(reports), store=store).stdout)
    assert [(i["status"], Path(i["source"]).name) for i in listed] == [
        ("unchanged", "good.md"), ("skipped", "slides.pptx"), ("skipped", "old.doc")]


def test_a_readers_warnings_about_a_file_it_read_stay_off_the_terminal(tmp_path: Path) -> None:
    pages = [f"Page {n}: Russian forces shelled Kherson on Monday, officials said." for n in (1, 2, 3)]
    pdf = write_pdf(tmp_path / "damaged.pdf", pages)
    data = pdf.read_bytes()
    pdf.write_bytes(data[:data.rindex(b"startxref")] + b"startxref\n999\n%%EOF\n")  # a wrong xref pointer
    done = briefbot("ingest", str(pdf), store=tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stdout and done.stderr == "", done.stderr  # pypdf's "incorrect startxref pointer"
    verbose = briefbot("-v", "ingest", str(pdf), "--json", store=tmp_path / "other")
    assert "incorrect startxref pointer" in verbose.stderr  # still there for whoever asks


def test_an_answer_says_how_it_read_a_period(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for day in ("2023-03-14", "2023-04-24"):
        write_md(docs / f"{day}.md", f"Russian forces shelled Kherson City again in the report of {day}, officials said.",
                 title=f"Assessment, {day}", date=day)
    assert briefbot("ingest", str(docs), store=tmp_path / "store").returncode == 0
    done = briefbot("ask", "What happened last month?", store=tmp_path / "store")
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "Read “last month” as March 2023: the newest report is dated 2023-04-24." in said
    assert "Assessment, 2023-03-14" in said and "Assessment, 2023-04-24" not in said


def test_refusal_exits_zero(tmp_path: Path) -> None:
    done = briefbot("ask", "--json", "What did Xi commit to?", store=tmp_path / "empty")
    assert done.returncode == 0 and json.loads(done.stdout)["answered"] is False


def test_an_empty_store_says_it_is_empty_not_that_the_reports_dont_say(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for question in ("What did Xi commit to?", "What's new?"):
        done = briefbot("ask", "--json", question, store=store)
        assert json.loads(done.stdout)["message"] == EMPTY
    briefbot("ingest", str(SAMPLES), store=store)
    assert json.loads(briefbot("ask", "--json", "What is the capital of Peru?", store=store).stdout)["message"] == REFUSAL
    [report] = json.loads(briefbot("sources", "--json", store=store).stdout)
    briefbot("forget", report["report_id"], store=store)
    assert json.loads(briefbot("ask", "--json", "What did Xi commit to?", store=store).stdout)["message"] == EMPTY


def test_bad_date_filter_is_a_usage_error(tmp_path: Path) -> None:
    done = briefbot("ask", "--since", "yesterday", "q", store=tmp_path / "store")
    assert done.returncode == 2 and "not a date" in done.stderr


def test_the_progress_bar_says_what_the_ingest_is_doing() -> None:
    from index.cli import describe
    from index.progress import IngestProgress

    assert describe(IngestProgress("reading", "/data/isw/isw-2022-04-18.md", 3, 107, current=4)) == "isw-2022-04-18.md"
    assert describe(IngestProgress("reading", "https://example.org/a/b", 0, 2, current=1)) == "https://example.org/a/b"
    assert describe(IngestProgress("embedding", "/data/a.md", 1.5, 3, batch=2, encoded=1024, sentences=2048)) == (
        "embedding 1,024/2,048 sentences of 2 inputs")
    assert describe(IngestProgress("embedding", "/data/" + "a" * 50 + ".pdf", 0, 1, batch=1, sentences=9)) == (
        f"embedding 0/9 sentences of {'a' * 39}…")
    assert describe(IngestProgress("indexing", "", 3, 3)) == "updating the keyword index"
    assert describe(IngestProgress("done", "", 3, 3)) == ""
