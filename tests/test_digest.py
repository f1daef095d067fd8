"""Questions that name no subject ("What's new?", "Summarize the March 3 assessment"): the opening
passages of the newest report or of a named period's, quoted at each paragraph's lead sentence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from index import EMPTY, Briefbot, Filters, Passage, Settings
from index.digest import asks_digest, publisher_words
from tests.helpers import check_verbatim, write_md

# A daily desk's boilerplate, the same in every report of the publisher: never a lead.
MAPS = ("These interactive maps complement the static control-of-terrain map that the institute produces daily "
        "by showing a dynamic frontline. The institute will update this time-lapse map archive every month.")


def paragraph(lead: str, subject: str) -> str:
    """A paragraph of ~130 words (a chunk of its own) opening with ``lead``, its other sentences
    details of ``subject``."""
    details = [f"Local officials described {subject} in a statement released in the evening.",
               f"Satellite imagery published by a commercial provider appears to confirm {subject} in part.",
               f"Several milbloggers amplified claims about {subject} without offering any evidence.",
               f"Independent outlets could not verify the figures that either side gave for {subject}.",
               f"Western officials said that {subject} had been expected for several days.",
               f"The institute will continue to monitor {subject} and its consequences for the front."]
    return " ".join([lead, *details])


# Each report's paragraphs: the lead sentence, and what its details are about.
DAYS = {
    "2023-03-01": [("Russian forces launched a large missile strike on the power grid around Odesa.",
                    "the missile strike on the Odesa power grid"),
                   ("Ukrainian forces repelled Russian ground assaults near the town of Vuhledar.",
                    "the repelled Russian assaults near Vuhledar"),
                   ("The Kremlin announced a new round of mobilization in the Far East.",
                    "the Kremlin's new mobilization round in the Far East")],
    "2023-03-03": [("Belarusian forces began a snap readiness check along the northern border.",
                    "the Belarusian snap readiness check on the northern border"),
                   ("Wagner Group fighters captured several streets in eastern Bakhmut.",
                    "the Wagner Group's capture of streets in eastern Bakhmut"),
                   ("Russian occupation officials opened new passport offices in Melitopol.",
                    "the new Russian passport offices in occupied Melitopol")],
    "2023-03-05": [("Ukrainian drones struck an oil depot in occupied Crimea overnight.",
                    "the Ukrainian drone strike on the Crimean oil depot"),
                   ("The Russian Defense Ministry replaced the commander of the Eastern Military District.",
                    "the replacement of the Eastern Military District commander"),
                   ("Ukrainian partisans derailed a freight train near Melitopol.",
                    "the partisans' derailment of the freight train near Melitopol")],
}


def leads(day: str) -> list[str]:
    return [lead for lead, _ in DAYS[day]]


def quoted(passages: Sequence[Passage], expected: list[str]) -> bool:
    """True when the passages quote the expected lead sentences, in order."""
    return len(passages) == len(expected) and all(p.quote.startswith(lead) for p, lead in zip(passages, expected, strict=False))


@pytest.fixture
def desk(settings: Settings, real_embedder: object, tmp_path: Path) -> Briefbot:
    service = Briefbot(settings, embedder=real_embedder)  # type: ignore[arg-type]
    docs = tmp_path / "docs"
    docs.mkdir()
    for day, paragraphs in DAYS.items():
        body = "\n\n".join([MAPS, *(paragraph(lead, subject) for lead, subject in paragraphs)])
        write_md(docs / f"desk-{day}.md", body, title=f"Daily Assessment, {day}", publisher="Desk Institute", date=day)
    write_md(docs / "other.md", paragraph("A grain ship left the port of Odesa under the corridor deal.",
                                          "the grain ship's departure from Odesa"),
             title="Shipping Notes", publisher="Other Press", date="2023-03-04")
    assert not service.ingest([str(docs)]).failed
    return service


@pytest.mark.parametrize("question", [
    "What's new?", "Any news?", "What's the latest?", "latest", "What happened yesterday?", "What is the situation?",
    "Give me the key takeaways", "Summarize the March 3 assessment", "What happened on 3 March 2023?",
    "Key points from the report of March 5th", "Anything new today?", "What happened last week?",
])
def test_questions_that_name_no_subject_ask_for_a_digest(question: str) -> None:
    assert asks_digest(question)


def test_a_publisher_of_the_store_is_no_subject() -> None:
    publishers = publisher_words(["Institute for the Study of War", None])
    assert asks_digest("What did ISW assess on March 21?", publishers)
    assert asks_digest("What did the Institute for the Study of War publish today?", publishers)
    assert not asks_digest("What did ISW assess on March 21?")
    assert not asks_digest("What did ISW say about Bakhmut?", publishers)


@pytest.mark.parametrize("question", [
    "What's new in Bakhmut?", "What is the latest on Kherson?", "Why?", "What is it?", "Who?", "2023",
    "What did Xi commit to?", "What happened to the Kakhovka dam?", "Summarize the Wagner mutiny",
    "What did the report say about Odesa?", "What may happen next?",
])
def test_questions_with_a_subject_are_searched(question: str) -> None:
    assert not asks_digest(question)


def test_whats_new_is_the_newest_report_in_its_own_order(desk: Briefbot) -> None:
    answer = desk.ask("What's new?", k=5)
    assert answer.answered
    assert answer.note == "The opening passages of the newest report, “Daily Assessment, 2023-03-05” (2023-03-05)."
    assert answer.message == answer.note
    check_verbatim(desk, answer)
    # each paragraph's lead (with the next sentence: a lead this short is quoted with it), boilerplate skipped
    assert quoted(answer.passages, leads("2023-03-05"))
    assert [p.start for p in answer.passages] == sorted(p.start for p in answer.passages)


def test_a_named_day_gets_that_days_report_and_more_pages_on(desk: Briefbot) -> None:
    first = desk.ask("Summarize the March 3 assessment", k=2)
    assert first.answered and "“Daily Assessment, 2023-03-03”" in first.note
    assert quoted(first.passages, leads("2023-03-03")[:2])
    more = desk.ask("Summarize the March 3 assessment", k=2, offset=2)
    assert quoted(more.passages, leads("2023-03-03")[2:])
    assert desk.ask("Summarize the March 3 assessment", k=2, offset=4).message == "No more passages."


def test_a_note_repeated_only_now_and_then_is_still_boilerplate(settings: Settings, real_embedder: object,
                                                                 tmp_path: Path) -> None:
    # A paragraph on the map archive opens March 3 and March 5 but not March 1: the report before
    # March 3 does not share it, the one after does.
    note = paragraph("Click here to access the institute's archive of interactive time-lapse maps of the war.",
                     "the institute's archive of interactive time-lapse maps")
    service = Briefbot(settings, embedder=real_embedder)  # type: ignore[arg-type]
    for day, paragraphs in DAYS.items():
        body = "\n\n".join([note] * (day != "2023-03-01") + [paragraph(lead, subject) for lead, subject in paragraphs])
        write_md(tmp_path / f"desk-{day}.md", body, title=f"Daily Assessment, {day}", publisher="Desk Institute",
                 date=day)
    assert not service.ingest([str(tmp_path)]).failed
    assert quoted(service.ask("Summarize the March 3 assessment", k=3).passages, leads("2023-03-03"))


def test_a_digest_passage_opens_at_its_lead(settings: Settings, real_embedder: object, tmp_path: Path) -> None:
    # The title heading leads the first chunk (as in ISW's reports, where a map note follows it too):
    # shown before the lead, it was the first words of every digest.
    service = Briefbot(settings, embedder=real_embedder)  # type: ignore[arg-type]
    for day, paragraphs in DAYS.items():
        body = "\n\n".join([f"# Daily Assessment, {day}"]
                            + [paragraph(lead, subject) for lead, subject in paragraphs])
        write_md(tmp_path / f"desk-{day}.md", body, title=f"Daily Assessment, {day}", publisher="Desk Institute",
                 date=day)
    assert not service.ingest([str(tmp_path)]).failed
    answer = service.ask("What's new?", k=3)
    assert quoted(answer.passages, leads("2023-03-05"))
    assert all(p.text.startswith(p.quote) for p in answer.passages)
    check_verbatim(service, answer)


def test_a_publisher_of_the_store_names_no_subject(desk: Briefbot) -> None:
    answer = desk.ask("What did the Desk Institute publish on March 3?", k=3)
    assert "“Daily Assessment, 2023-03-03”" in answer.note and quoted(answer.passages, leads("2023-03-03"))
    assert not desk.ask("What did the Kyiv Institute publish on March 3?").note  # not a publisher here


def test_a_named_month_gets_each_reports_lead_oldest_first(desk: Briefbot) -> None:
    answer = desk.ask("What happened in March 2023?", k=5)
    assert answer.note == "The opening passage of each of the 4 reports dated 2023-03-01 to 2023-03-05, oldest first."
    check_verbatim(desk, answer)
    assert [p.date for p in answer.passages] == ["2023-03-01", "2023-03-03", "2023-03-04", "2023-03-05", "2023-03-01"]
    assert quoted(answer.passages[:2], [leads("2023-03-01")[0], leads("2023-03-03")[0]])
    assert quoted(answer.passages[4:], leads("2023-03-01")[1:2])  # then each report's second


def test_a_period_without_reports_is_refused_with_the_nearest_dates(desk: Briefbot) -> None:
    answer = desk.ask("What happened on March 2, 2023?")
    # March 2 has no report; the March 3 report may cover it (reports describe the days before them)
    assert answer.answered and "2023-03-03" in answer.note
    before = desk.ask("What happened on February 20, 2023?")
    assert not before.answered
    assert before.message == "The reports in the store don't say: none is dated in that period (the nearest: 2023-03-01)."


def test_filters_choose_among_the_reports(desk: Briefbot) -> None:
    other = desk.ask("What's new?", filters=Filters(source="Other Press"))
    assert [p.title for p in other.passages] == ["Shipping Notes"]
    older = desk.ask("What's new?", filters=Filters(until="2023-03-02"))
    assert {p.date for p in older.passages} == {"2023-03-01"}


def test_a_question_with_a_subject_is_still_searched(desk: Briefbot) -> None:
    answer = desk.ask("What's new on the oil depot in Crimea?")
    assert answer.answered and not answer.note
    assert answer.passages[0].quote.startswith("Ukrainian drones struck an oil depot")


def test_an_empty_store_refuses_a_digest(settings: Settings) -> None:
    empty = Briefbot(settings)
    assert empty.ask("What's new?").message == EMPTY


def test_a_digest_in_both_store_modes_follows_an_ingest_and_a_forget(any_service: Briefbot, tmp_path: Path) -> None:
    docs = tmp_path / "two"
    docs.mkdir()
    for day, paragraphs in list(DAYS.items())[:2]:
        body = "\n\n".join([MAPS, *(paragraph(lead, subject) for lead, subject in paragraphs)])
        write_md(docs / f"{day}.md", body, title=f"Daily Assessment, {day}", publisher="Desk Institute", date=day)
    assert not any_service.ingest([str(docs)]).failed
    newest = any_service.ask("What's new?", k=3)
    check_verbatim(any_service, newest)
    assert quoted(newest.passages, leads("2023-03-03"))
    any_service.forget(str(docs / "2023-03-03.md"))
    assert quoted(any_service.ask("What's new?", k=3).passages, leads("2023-03-01"))
