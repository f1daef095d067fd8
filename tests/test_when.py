"""Dates in questions: the periods they name, and asking for the latest (the last days' reports when
they answer, all the reports when not)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import Briefbot, Filters, Settings
from index.recent import RECENT_DAYS, latest_since, resolve
from index.when import Window, names_period, opens_at, windows
from tests.helpers import check_verbatim, write_md


@pytest.fixture
def desk(settings: Settings, real_embedder: object, tmp_path: Path) -> Briefbot:
    service = Briefbot(settings, embedder=real_embedder)  # type: ignore[arg-type]
    docs = tmp_path / "docs"
    docs.mkdir()
    write_md(docs / "march.md", "Russian artillery shelled Kherson City and the Kherson river port for a third day. "
             "Kherson residents sheltered as Kherson officials counted the damage.",
             title="Assessment, March 1", date="2023-03-01")
    write_md(docs / "dam.md", "The Kakhovka reservoir level fell after the dam gates were opened.",
             title="Assessment, March 5", date="2023-03-05")
    write_md(docs / "early-april.md", "Ukrainian forces struck a Russian depot near Kherson.",
             title="Assessment, April 10", date="2023-04-10")
    write_md(docs / "late-april.md", "Saldo claimed that Russian forces hold the east bank of Kherson Oblast.",
             title="Assessment, April 24", date="2023-04-24")
    write_md(docs / "bakhmut.md", "Wagner fighters advanced in northern Bakhmut.",
             title="Assessment, April 22", date="2023-04-22")
    assert not service.ingest([str(docs)]).failed
    return service


def test_the_latest_comes_from_the_last_days_reports(desk: Briefbot) -> None:
    # Asked without "latest", March's report (Kherson, again and again) is the best match.
    assert desk.ask("What about Kherson?").passages[0].title == "Assessment, March 1"
    for question in ("What is the latest on Kherson?", "What's happening in Kherson now?",
                     "Kherson: anything new recently?", "Kherson over the past week",
                     "What has happened in Kherson in the last few days?"):
        answer = desk.ask(question)
        assert answer.answered, question
        assert answer.passages[0].title == "Assessment, April 24", question
        assert all(p.date and p.date >= "2023-04-17" for p in answer.passages), question
        assert answer.message.endswith("of 2023-04-17 to 2023-04-24 (the latest)")
        assert answer.note == "From the latest reports: 2023-04-17 to 2023-04-24."
        check_verbatim(desk, answer)


def test_the_latest_moves_on_with_a_newer_report(desk: Briefbot, tmp_path: Path) -> None:
    assert desk.ask("What is the latest on Kherson?").note.endswith("2023-04-24.")
    write_md(tmp_path / "may.md", "Russian forces mined the Kherson river port.", title="Assessment, May 2",
             date="2023-05-02")
    assert not desk.ingest([str(tmp_path / "may.md")]).failed
    answer = desk.ask("What is the latest on Kherson?")
    assert answer.note == "From the latest reports: 2023-04-25 to 2023-05-02."
    assert answer.passages[0].title == "Assessment, May 2"


def test_the_latest_falls_back_to_all_the_reports_when_the_last_days_say_nothing(desk: Briefbot) -> None:
    answer = desk.ask("What is the latest on the Kakhovka dam?")
    assert answer.answered
    assert answer.passages[0].title == "Assessment, March 5"
    assert "(the latest)" not in answer.message
    assert answer.note == ("Nothing in the latest reports (2023-04-17 to 2023-04-24) answers that; "
                           "these passages are from all the reports.")
    assert not desk.ask("What is the latest on the grain corridor?").answered


def test_a_date_filter_or_a_named_period_replaces_the_latest(desk: Briefbot) -> None:
    asked = desk.ask("What is the latest on Kherson?", filters=Filters(since="2023-04-01", until="2023-04-15"))
    assert [p.title for p in asked.passages] == ["Assessment, April 10"]
    named = desk.ask("What is the latest on Kherson in March 2023?")
    assert named.passages[0].title == "Assessment, March 1"
    assert "(the latest)" not in named.message


def test_a_period_after_the_newest_report_is_answered_only_by_reports_that_name_it(desk: Briefbot,
                                                                                   tmp_path: Path) -> None:
    late = desk.ask("What happened in Kherson in May 2023?")
    assert not late.answered
    assert late.message == "The reports in the store don't say: the newest is dated 2023-04-24, before that period."
    # An earlier report may still speak of a later period, by name.
    write_md(tmp_path / "plans.md", "Russian officials said in 2023 that they may form two new armies in Kherson Oblast by 2024.",
             title="Assessment, April 2", date="2023-04-02")
    assert not desk.ingest([str(tmp_path / "plans.md")]).failed
    plans = desk.ask("What are Russia's plans for Kherson in 2024?")
    assert [p.title for p in plans.passages] == ["Assessment, April 2"]
    assert not desk.ask("What happened in Kherson in May 2023?").answered  # "may" and "2023" are not "May 2023"


def test_last_month_is_the_month_before_the_newest_report(desk: Briefbot) -> None:
    answer = desk.ask("What happened in Kherson last month?")
    assert answer.question == "What happened in Kherson last month?"
    assert answer.passages[0].title == "Assessment, March 1"
    assert answer.note == "Read “last month” as March 2023: the newest report is dated 2023-04-24."
    check_verbatim(desk, answer)
    this = desk.ask("What happened in Kherson this month?")
    assert this.passages[0].title in ("Assessment, April 10", "Assessment, April 24")
    assert not desk.ask("What happened in Kherson last year?").answered  # 2022: no report, none names it
    digest = desk.ask("What happened last month?")  # no subject: March's reports, opening passages
    assert [p.title for p in digest.passages] == ["Assessment, March 1", "Assessment, March 5"]
    assert digest.note.startswith("Read “last month” as March 2023: the newest report is dated 2023-04-24. ")


def test_the_latest_reaches_as_far_back_as_asked(desk: Briefbot) -> None:
    month = desk.ask("What has happened in Kherson over the past month?")
    assert month.note == "From the latest reports: 2023-03-24 to 2023-04-24."
    assert {p.title for p in month.passages[:2]} == {"Assessment, April 10", "Assessment, April 24"}
    assert all(p.date and p.date >= "2023-03-24" for p in month.passages)
    # Two days hold one report on Kherson; a week would hold it too, a month two.
    days = desk.ask("What has happened in Kherson in the past two days?")
    assert days.note == "From the latest reports: 2023-04-22 to 2023-04-24."
    assert days.passages[0].title == "Assessment, April 24"
    assert all(p.date and p.date >= "2023-04-22" for p in days.passages)
    # Nothing on the dam in the last days or the week: all the reports answer.
    dam = desk.ask("What happened to the Kakhovka reservoir yesterday?")
    assert dam.passages[0].title == "Assessment, March 5" and "(the latest)" not in dam.message


def test_days_and_weeks_ago_are_read_from_the_newest_report(desk: Briefbot) -> None:
    for question in ("What did Wagner do two days ago?", "What did Wagner do the day before yesterday?"):
        answer = desk.ask(question)
        assert answer.passages[0].title == "Assessment, April 22", question
        assert answer.note.startswith("Read “") and "as April 22, 2023: the newest report is dated 2023-04-24." in answer.note
    weeks = desk.ask("What happened in Kherson two weeks ago?")  # the week from Monday, April 10
    assert weeks.passages[0].title == "Assessment, April 10"
    assert weeks.note.startswith("Read “two weeks ago” as the week of April 10, 2023")
    assert not desk.ask("What happened in Kherson two years ago?").answered  # 2021: no report
    spring = desk.ask("What happened to the Kakhovka reservoir this spring?")
    assert spring.passages[0].title == "Assessment, March 5"
    assert spring.note.startswith("Read “this spring” as the spring of 2023: ")


def test_what_comes_next_is_asked_of_the_latest_reports(desk: Briefbot) -> None:
    # A forecast is in the newest reports: "the coming weeks" searches the last week's first.
    for question in ("What will happen in Kherson in the coming weeks?", "What will happen in Kherson next week?"):
        answer = desk.ask(question)
        assert answer.note == "From the latest reports: 2023-04-17 to 2023-04-24.", question
        assert answer.passages[0].title == "Assessment, April 24", question


def test_a_span_without_a_subject_gets_the_opening_passages_of_its_reports(desk: Briefbot) -> None:
    weeks = desk.ask("What happened in the past two weeks?")
    # April 22's one sentence is too short to lead (digest.MIN_WORDS).
    # A span up to now reads newest first, so a long one's first page shows its latest days.
    assert weeks.note == "The opening passage of each of the 2 reports dated 2023-04-10 to 2023-04-24, newest first."
    assert [p.title for p in weeks.passages] == ["Assessment, April 24", "Assessment, April 10"]
    assert [p.title for p in desk.ask("What happened in the past two months?", k=1).passages] == ["Assessment, April 24"]
    for newest in ("What's new?", "What happened yesterday?"):  # the newest report tells of yesterday
        assert [p.title for p in desk.ask(newest).passages] == ["Assessment, April 24"], newest


def test_a_year_lent_to_february_is_searched(desk: Briefbot) -> None:
    # February 29, 2023 made the period's dates fail, and the question was told the store was down.
    answer = desk.ask("What happened in Kherson in February and March 2023?")
    assert answer.answered and answer.passages[0].title == "Assessment, March 1"


def test_the_week_of_a_day_is_seven_days(desk: Briefbot) -> None:
    week = desk.ask("What happened in Kherson in the week of April 8, 2023?")
    assert week.passages[0].title == "Assessment, April 10"


def test_a_period_open_at_one_end(desk: Briefbot) -> None:
    since = desk.ask("What happened in Kherson since April 2023?")  # no report of March can tell of April
    assert since.answered and since.note == "From the reports dated 2023-04-01 or later."
    assert {p.title for p in since.passages[:2]} == {"Assessment, April 10", "Assessment, April 24"}
    assert all(p.date and p.date >= "2023-04-01" for p in since.passages)
    check_verbatim(desk, since)
    before = desk.ask("What happened in Kherson before April 2023?")
    assert before.passages[0].title == "Assessment, March 1"
    assert desk.ask("What happened in Kherson since May 2023?").message.endswith("before that period.")
    assert desk.ask("What happened in Kherson until May 2023?").answered
    early = desk.ask("What happened before March 2023?")  # no subject, no report: the nearest date
    assert early.message == "The reports in the store don't say: none is dated in that period (the nearest: 2023-03-01)."


def test_a_range_is_one_period(desk: Briefbot) -> None:
    # Read as two days, "April 5" and "April 30", the range held none of the reports; read as one
    # period it holds April 10, 22 and 24, and their passages on Kherson rank first.
    assert desk.ask("What happened in Kherson?").passages[0].title == "Assessment, March 1"
    ranged = desk.ask("What happened in Kherson from April 5 to April 30, 2023?")
    assert ranged.passages[0].title == "Assessment, April 10"
    check_verbatim(desk, ranged)
    summary = desk.ask("Summarize the reports between April 5 and April 30, 2023")
    # April 22's one sentence is too short to lead (digest.MIN_WORDS): the note counts the other two.
    assert summary.note == "The opening passage of each of the 2 reports dated 2023-04-10 to 2023-04-24, oldest first."
    assert [p.title for p in summary.passages] == ["Assessment, April 10", "Assessment, April 24"]


def test_numeric_dates_and_parts_of_a_year_are_periods(desk: Briefbot) -> None:
    assert desk.ask("What happened in Kherson on 10.04.2023?").passages[0].title == "Assessment, April 10"
    assert desk.ask("What happened in Kherson on 4/24/2023?").passages[0].title == "Assessment, April 24"
    # Asked without a period, March 1 ranks first (test_the_latest_comes_from_the_last_days_reports).
    assert desk.ask("What happened in Kherson in Q2 2023?").passages[0].title == "Assessment, April 10"
    late = desk.ask("What happened in Kherson in the second half of 2023?")
    assert not late.answered and "2023-04-24" in late.message  # after the newest report


def test_a_range_over_the_new_year() -> None:
    winter = windows("What happened from November 2022 to February 2023?")[0]
    assert winter.span() == ("2022-11-01", "2023-02-28")
    assert [winter.contains(d) for d in ("2022-10-31", "2022-11-01", "2023-01-15", "2023-03-03", "2023-03-04")] == \
        [False, True, True, True, False]  # three days of reporting after the end
    assert list(winter.months()) == [(2022, 11), (2022, 12), (2023, 1), (2023, 2)]
    any_winter = windows("from November to February")[0]
    assert [any_winter.contains(d) for d in ("2021-12-25", "2024-02-10", "2023-10-30", "2023-03-10")] == \
        [True, True, False, False]
    assert names_period("What happened from November 2022 to February 2023?", "Russia plans to attack by January 2023")
    assert not names_period("What happened from November 2022 to February 2023?", "Russia plans to attack by April 2023")


def test_where_a_period_opens() -> None:
    assert opens_at("What has Wagner done since March 2023?") == "2023-03-01"
    assert opens_at("after 15 January 2023 and since 2022") == "2022-01-01"
    assert opens_at("since March 2023 and in May 2022") is None  # one period is closed
    assert opens_at("before March 2023") is None
    assert opens_at("since March") is None


def test_which_questions_ask_for_the_latest() -> None:
    newest = "2023-04-24"
    week = f"2023-04-{24 - RECENT_DAYS:02d}"
    for question in ("What is the latest on Kherson?", "Where is Wagner fighting now?", "Who commands the VDV currently?",
                     "What has Prigozhin said recently?", "Any news this week?", "the most recent strikes on Odesa",
                     "Kherson over the past week", "Wagner in recent days", "What did Prigozhin say last week?",
                     "the last few days", "What has Wagner done over the last seven days?",
                     "What will Russia do next week?", "Kherson in the coming weeks", "the days ahead in Bakhmut"):
        assert latest_since(question, lambda: newest) == [week], question
    for question in ("What did Xi commit to?", "What happened in Kherson in November 2022?", "Who knows?",
                     "Was the recentralisation of command announced?", "What happened in the last days of Azovstal?",
                     "the last weeks of the Kharkiv counteroffensive", "the past of Crimea", "Is the river clean nowadays?",
                     "What happened in the last week of February 2023?", "the last month of the siege of Mariupol",
                     "the next phase of the war", "What's coming?"):
        assert latest_since(question, lambda: newest) == [], question
    assert latest_since("What is the latest?", lambda: None) == []  # no dated report in the store
    assert latest_since("What is the latest?", lambda: "sometime") == []


@pytest.mark.parametrize(("question", "starts"), [
    # A span narrower than the week falls back to the week before all the reports.
    ("What did Russia strike yesterday?", ["2023-04-23", "2023-04-17"]),
    ("strikes in the past 24 hours", ["2023-04-23", "2023-04-17"]),
    ("What did Russia hit last night?", ["2023-04-23", "2023-04-17"]),
    ("What is happening in Bakhmut today?", ["2023-04-23", "2023-04-17"]),
    ("Bakhmut in the last 48 hours", ["2023-04-22", "2023-04-17"]),
    ("the past couple of days", ["2023-04-22", "2023-04-17"]),
    ("the last couple of weeks", ["2023-04-10"]),
    ("What has Wagner done in the past two weeks?", ["2023-04-10"]),
    ("the past few weeks in Avdiivka", ["2023-04-03"]),
    # A month or a year back is the same day of that month or year.
    ("What has changed over the past month?", ["2023-03-24"]),
    ("the last three months", ["2023-01-24"]),
    ("How has Russia's strategy changed in recent months?", ["2023-01-24"]),
    ("What has Wagner done in the past year?", ["2022-04-24"]),
])
def test_how_far_back_the_latest_reaches(question: str, starts: list[str]) -> None:
    assert latest_since(question, lambda: "2023-04-24") == starts


@pytest.mark.parametrize(("question", "resolved"), [
    ("What happened in Kherson last month?", "What happened in Kherson March 2023?"),
    ("What has happened this month?", "What has happened April 2023?"),
    ("What did Putin promise this year?", "What did Putin promise in 2023?"),
    ("What has Wagner done since last year?", "What has Wagner done since 2022?"),
    ("the offensive of March last year", "the offensive of March 2022"),
    ("Q1 this year", "Q1 2023"),
    ("What happened in Bakhmut two months ago?", "What happened in Bakhmut February 2023?"),
    ("What did Wagner do two days ago?", "What did Wagner do on April 22, 2023?"),
    ("What happened the day before yesterday?", "What happened on April 22, 2023?"),
    ("What did Putin say a week ago?", "What did Putin say the week of April 17, 2023?"),
    ("strikes 10 days ago", "strikes on April 14, 2023"),
    ("What did Prigozhin say three weeks ago?", "What did Prigozhin say the week of April 3, 2023?"),
    ("What did Putin promise two years ago?", "What did Putin promise in 2021?"),
    ("since a year ago", "since 2022"),
    ("What lived here 10,000 years ago?", "What lived here 10,000 years ago?"),
    # Seasons, quarters and "the start of the year" are those of now; April 24 is in spring.
    ("What did Russia do last winter?", "What did Russia do the winter of 2022-23?"),
    ("this winter", "the winter of 2022-23"),
    ("What happened last summer?", "What happened the summer of 2022?"),
    ("plans for this summer", "plans for the summer of 2023"),
    ("What happened late last year?", "What happened late 2022?"),
    ("What happened last quarter?", "What happened Q1 2023?"),
    ("How many strikes since the start of the year?", "How many strikes since the start of 2023?"),
    ("since the beginning of the month", "since the beginning of April 2023"),
    ("the last winter of the war", "the last winter of the war"),
    ("the last quarter of 2022", "the last quarter of 2022"),
    ("since the start of the year-long siege", "since the start of the year-long siege"),
    # The newest report, April 24, is a Monday's.
    ("What happened on Friday?", "What happened on April 21, 2023?"),
    ("What did Putin say last Monday?", "What did Putin say on April 17, 2023?"),
    ("What happened on Monday?", "What happened on April 24, 2023?"),
    ("What has Wagner done since Thursday?", "What has Wagner done since April 20, 2023?"),
    # A weekday some weeks ago is one day, weeks before that weekday's last one ("a week ago Sunday" is
    # the Sunday before last), not two periods.
    ("What happened on Monday two weeks ago?", "What happened on April 10, 2023?"),
    ("What did Prigozhin say two weeks ago on Thursday?", "What did Prigozhin say on April 6, 2023?"),
    ("strikes a week ago Sunday", "strikes on April 16, 2023"),
    ("What happened over the weekend?", "What happened from April 22, 2023 to April 23, 2023?"),
    ("the weekend's strikes", "the weekend's strikes"),
    ("on Monday, March 6", "on Monday, March 6"),  # the date says which Monday
    ("Monday's strikes", "Monday's strikes"),
    ("meetings held on Tuesday afternoons", "meetings held on Tuesday afternoons"),
    # Spans and a period of something are no calendar period.
    ("What has changed over the last month?", "What has changed over the last month?"),
    ("the past year", "the past year"),
    ("the last month of the siege of Mariupol", "the last month of the siege of Mariupol"),
])
def test_last_month_and_this_year_are_read_from_the_newest_report(question: str, resolved: str) -> None:
    read, said = resolve(question, lambda: "2023-04-24")
    assert read == resolved
    assert said.endswith("the newest report is dated 2023-04-24.") if read != question else said == ""
    assert resolve("What happened last month?", lambda: None) == ("What happened last month?", "")
    assert resolve("last year", lambda: "0001-03-01") == ("last year", "")  # no year before it to name
    for before_year_one in ("five years ago", "40 months ago", "900 days ago", "60 weeks ago"):
        assert resolve(before_year_one, lambda: "0002-01-03") == (before_year_one, "")


@pytest.mark.parametrize(("newest", "last_winter", "this_winter", "last_summer"), [
    ("2023-01-15", "the winter of 2021-22", "the winter of 2022-23", "the summer of 2022"),  # in a winter: the one before
    ("2023-09-10", "the winter of 2022-23", "the winter of 2023-24", "the summer of 2023"),  # a summer just over
    ("2023-12-05", "the winter of 2022-23", "the winter of 2023-24", "the summer of 2023"),
])
def test_last_season_is_the_last_one_over(newest: str, last_winter: str, this_winter: str, last_summer: str) -> None:
    assert [resolve(q, lambda: newest)[0] for q in ("last winter", "this winter", "last summer")] == [
        last_winter, this_winter, last_summer]


def test_a_span_reaching_before_year_one_starts_there() -> None:
    # A count larger than the calendar behind the newest report made "the latest" fail on a date.
    assert latest_since("the past 999 years", lambda: "0050-05-17") == ["0001-01-01"]
    assert latest_since("the past 999 weeks", lambda: "0003-01-01") == ["0001-01-01"]


def test_what_was_written_out_is_not_read_again() -> None:
    for question in ("this this autumn", "the winter of 2022-23 month ago"):
        read = resolve(question, lambda: "2023-10-26")[0]
        assert resolve(read, lambda: "2023-10-26")[0] == read, question


def test_last_quarter_of_a_january_is_the_year_before() -> None:
    assert resolve("last quarter", lambda: "2023-01-15") == (
        "Q4 2022", "Read “last quarter” as Q4 2022: the newest report is dated 2023-01-15.")


def test_last_weekend_of_a_sunday_is_the_one_before() -> None:
    assert resolve("last weekend", lambda: "2023-01-01")[0] == "from December 24, 2022 to December 25, 2022"
    assert resolve("over the weekend", lambda: "2023-01-01")[0] == "from December 31, 2022 to January 1, 2023"


def test_a_month_back_from_a_longer_month_ends_on_the_last_day() -> None:
    assert latest_since("the past month", lambda: "2023-03-31") == ["2023-02-28"]
    assert resolve("last month", lambda: "2023-01-15")[0] == "December 2022"
    assert resolve("last year", lambda: "2023-01-15")[0] == "in 2022"


@pytest.mark.parametrize(("question", "named"), [
    ("What happened on March 2, 2022?", [Window(2022, (3, 2), (3, 2))]),
    ("What happened on 15 January 2023?", [Window(2023, (1, 15), (1, 15))]),
    ("What did ISW report on 2023-01-15?", [Window(2023, (1, 15), (1, 15))]),
    ("What happened on the 3rd of March?", [Window(None, (3, 3), (3, 3))]),
    ("Fighting near Izyum on March 3-5, 2022", [Window(2022, (3, 3), (3, 5))]),
    ("between March 3rd and 10th", [Window(None, (3, 3), (3, 10))]),
    ("in late March 2022", [Window(2022, (3, 20), (3, 31))]),
    ("during 2022", [Window(2022, (1, 1), (12, 31))]),
    ("the 5th of May", [Window(None, (5, 5), (5, 5))]),
    ("the week of March 6, 2023", [Window(2023, (3, 6), (3, 12))]),
    ("reports from 2023-01-15", [Window(2023, (1, 15), (1, 15))]),  # the day, not the year
    # A year lent to February: the 28th in a common year (the 29th was a date that is none).
    ("in February and March 2023", [Window(2023, (2, 1), (2, 28)), Window(2023, (3, 1), (3, 31))]),
    ("from December 2022 to February", [Window(2022, (12, 1), (2, 28), end_year=2023)]),
    ("from December 2023 to February", [Window(2023, (12, 1), (2, 29), end_year=2024)]),
    ("since 2023-01-15", [Window(2023, (1, 15), (1, 15), "later")]),
    ("in May of 2012", [Window(2012, (5, 1), (5, 31))]),
    ("Where did the 3rd Army Corps fight in May?", [Window(None, (5, 1), (5, 31))]),
    ("What was the March offensive?", [Window(None, (3, 1), (3, 31))]),
    ("Who led the march on Moscow?", []),  # a march, not March
    ("Why is it called the river of May?", []),
    ("in the week beginning 28 February 2023", [Window(2023, (2, 28), (3, 6))]),
    ("the week of December 29, 2022", [Window(2022, (12, 29), (1, 4), end_year=2023)]),
    ("the week of 3/14/2023", [Window(2023, (3, 14), (3, 20))]),
    ("the week of March 6", [Window(None, (3, 6), (3, 12))]),
    ("the week of February 29", [Window(None, (2, 29), (3, 6))]),
    ("on February 29", [Window(None, (2, 29), (2, 29))]),
    ("sometime in March", [Window(None, (3, 1), (3, 31))]),  # "March 40" is no day either
    ("Who was in Mariupol?", []),
    ("Russia may attack again and 5 may be killed", []),  # "may", the verb
    ("What did ISW say on 2023-02-30?", []),
    ("What has happened in Bakhmut since March 2023?", [Window(2023, (3, 1), (3, 31), "later")]),
    ("Kherson since 2022", [Window(2022, (1, 1), (12, 31), "later")]),
    ("What did Wagner do after the 15th of January 2023?", [Window(2023, (1, 15), (1, 15), "later")]),
    ("before late March 2022", [Window(2022, (3, 20), (3, 31), "earlier")]),
    ("until 2023-01-15", [Window(2023, (1, 15), (1, 15), "until")]),
    ("since March", [Window(None, (3, 1), (3, 31))]),  # which March: not opened
    ("the takeaways from March 21, 2023", [Window(2023, (3, 21), (3, 21))]),
    ("What happened from March to May 2023?", [Window(2023, (3, 1), (5, 31))]),
    ("between 1 March and 15 April 2023", [Window(2023, (3, 1), (4, 15))]),
    ("between the 1st of March and the 3rd of April 2022", [Window(2022, (3, 1), (4, 3))]),
    ("Kherson, March–May 2023", [Window(2023, (3, 1), (5, 31))]),
    ("from mid-March to early April 2023", [Window(2023, (3, 10), (4, 10))]),
    ("December 28, 2022 to January 3, 2023", [Window(2022, (12, 28), (1, 3), end_year=2023)]),
    ("from November to February 2023", [Window(2022, (11, 1), (2, 28), end_year=2023)]),
    ("between March and May", [Window(None, (3, 1), (5, 31))]),  # "may" after a range's "and": the month
    ("in March and May 2023", [Window(2023, (3, 1), (3, 31)), Window(2023, (5, 1), (5, 31))]),  # two months
    ("in January, March, and in May 2023", [Window(2023, (1, 1), (1, 31)), Window(2023, (3, 1), (3, 31)),
                                            Window(2023, (5, 1), (5, 31))]),  # one year for the list
    ("on March 3 or March 9, 2022", [Window(2022, (3, 3), (3, 3)), Window(2022, (3, 9), (3, 9))]),
    ("in March, then again in May 2023", [Window(None, (3, 1), (3, 31)), Window(2023, (5, 1), (5, 31))]),
    ("from May 2023 to March 2023", [Window(2023, (5, 1), (5, 31)), Window(2023, (3, 1), (3, 31))]),  # backwards
    ("between 2014 and 2022", [Window(2014, (1, 1), (12, 31), end_year=2022)]),
    ("Wagner in 2022-23", [Window(2022, (1, 1), (12, 31), end_year=2023)]),
    ("from 2022 to March 2023", [Window(2022, (1, 1), (3, 31), end_year=2023)]),
    ("in 2022 - 15 people died", [Window(2022, (1, 1), (12, 31))]),
    ("The reports from 2022", [Window(2022, (1, 1), (12, 31))]),
    ("What happened between 1 and 5 March 2022?", [Window(2022, (3, 1), (3, 5))]),
    ("from the 1st to the 5th of March 2023", [Window(2023, (3, 1), (3, 5))]),
    ("on 3–10 May 2023", [Window(2023, (5, 3), (5, 10))]),
    # Numeric dates: dots day first; slashes and dashes either way, both when both could be the month.
    ("What happened on 14.03.2023?", [Window(2023, (3, 14), (3, 14))]),
    ("on 1.5.2023", [Window(2023, (5, 1), (5, 1))]),
    ("on 14-03-23", [Window(2023, (3, 14), (3, 14))]),
    ("on 3-5-2022", [Window(2022, (3, 5), (3, 5)), Window(2022, (5, 3), (5, 3))]),
    ("on 3/14/2023", [Window(2023, (3, 14), (3, 14))]),
    ("on 14/03/2023", [Window(2023, (3, 14), (3, 14))]),
    ("on 3/4/2023", [Window(2023, (3, 4), (3, 4)), Window(2023, (4, 3), (4, 3))]),
    ("on 2023/03/14", [Window(2023, (3, 14), (3, 14))]),
    ("on 31.02.2023 or in version 1.2.3", []),
    # Parts of a year.
    ("in Q1 2023", [Window(2023, (1, 1), (3, 31))]),
    ("in the fourth quarter of 2022", [Window(2022, (10, 1), (12, 31))]),
    ("from Q1 to Q3 2023", [Window(2023, (1, 1), (9, 30))]),
    ("the first quarter of the match", []),
    ("in H1 2023", [Window(2023, (1, 1), (6, 30))]),
    ("in the second half of 2022", [Window(2022, (7, 1), (12, 31))]),
    ("in early 2023", [Window(2023, (1, 1), (4, 30))]),
    ("mid-2022", [Window(2022, (5, 1), (8, 31))]),
    ("since late 2022", [Window(2022, (9, 1), (12, 31), "later")]),
    ("by the end of 2022", [Window(2022, (9, 1), (12, 31))]),
    ("during summer 2022", [Window(2022, (6, 1), (8, 31))]),
    ("in the spring of 2023", [Window(2023, (3, 1), (5, 31))]),
    ("in the summer and fall of 2022", [Window(2022, (6, 1), (8, 31)), Window(2022, (9, 1), (11, 30))]),
    ("the winter of 2022-23", [Window(2022, (12, 1), (2, 28), end_year=2023)]),
    ("winter 2023", [Window(2023, (1, 1), (2, 28)), Window(2023, (12, 1), (2, 29), end_year=2024)]),  # both readings
    ("in the winter", [Window(None, (12, 1), (2, 29))]),
    ("from fall 2022 to spring 2023", [Window(2022, (9, 1), (5, 31), end_year=2023)]),
    ("Did Bakhmut fall? What of its spring offensive?", []),  # the verb, and no period
])
def test_the_periods_a_question_names(question: str, named: list[Window]) -> None:
    assert windows(question) == named


_DATE_WORDS = ["last", "this", "past", "the", "next", "month", "months", "year", "years", "week", "weeks", "days",
               "hours", "two", "a", "couple", "of", "few", "recent", "ago", "day before yesterday", "coming", "ahead", "quarter", "start of the", "summer", "autumn", "on", "since", "before", "until",
               "Monday", "sunday", "weekend", "over", "in", "May", "may", "march", "March", "2023", "2022-23",
               "14.03.2023", "3/4/2023", "2023-02-29", "Q1", "H2", "winter", "early", "mid-2022", "5th", "31",
               "yesterday", "today", "latest", "week of", "from", "to", "and", ",", "?", "Bakhmut", "February",
               "Feb", "December", "29", "between", "Friday", "Q3", "2024", "spring", "late", "H1", "2/29/2023",
               "two weeks ago", "a week ago", "Monday", "on Sunday"]


_MONTH_NAMES = st.sampled_from(["January", "February", "March", "May", "April", "November", "December", "Feb"])
_TEMPLATES = ["in {m} and {n} {y}", "from {m} {y} to {n}", "from {d} {m} to {n} {y}", "between {d} and {e} {m} {y}",
              "{m} {d}-{e}, {y}", "the week of {m} {d}, {y}", "the week of {m} {d}", "{d}/{e}/{y}", "{d}.{e}.{y}", "{y}-{e:02d}-{d:02d}",
              "since {m} {d}", "until {d} {m} {y}", "from {m} to {n} {y}", "in {m} of {y}", "winter {y}"]
# Words of dates in any order, and dates as questions write them, with any days and years.
_QUESTIONS = st.one_of(
    st.lists(st.sampled_from(_DATE_WORDS), max_size=12).map(" ".join),
    st.builds(lambda t, m, n, d, e, y: t.format(m=m, n=n, d=d, e=e, y=y), st.sampled_from(_TEMPLATES),
              _MONTH_NAMES, _MONTH_NAMES, st.integers(0, 32), st.integers(0, 32), st.integers(1999, 2031)),
)


@given(_QUESTIONS, st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)))
@settings(max_examples=500, deadline=None)
def test_any_mix_of_date_words_reads_without_error(question: str, newest: date) -> None:
    read, said = resolve(question, lambda: newest.isoformat())
    assert resolve(read, lambda: newest.isoformat())[0] == read  # what was written out is absolute
    assert bool(said) == (read != question)
    for w in windows(read):
        if w.year is not None:  # a span of any year has no dates (Window.span)
            first, last = w.span()
            assert first <= last, w
        assert isinstance(w.contains(newest.isoformat()), bool)
    starts = latest_since(read, lambda: newest.isoformat())
    assert starts == sorted(starts, reverse=True) and all(s < newest.isoformat() for s in starts)


def test_any_mix_of_date_words_is_answered_or_refused(service: Briefbot, tmp_path: Path) -> None:
    # Over a dated store (the hash embedder: fast), no reading of a period may fail the question:
    # a date that is none once made it "the store can't be searched".
    docs = tmp_path / "docs"
    docs.mkdir()
    for day in ("2023-02-27", "2023-03-01", "2024-02-29"):
        write_md(docs / f"{day}.md", f"Russian artillery shelled Kherson on the day of the {day} report.",
                 title=f"Assessment, {day}", date=day)
    assert not service.ingest([str(docs)]).failed

    @given(_QUESTIONS)
    @settings(max_examples=150, deadline=None)
    def asked(question: str) -> None:
        answer = service.ask(f"Kherson {question}")
        assert answer.answered or answer.message

    asked()
