"""PDF text as a reader reads it: running headers, footers and page numbers dropped, words broken
by a hyphen at a line's end made whole, a sentence cut by a page break kept one sentence. The PDFs
are real (reportlab draws them line by line, as a report's typesetter does; pypdf reads them)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from index import Briefbot
from index.load import load_bytes
from index.pdftext import continues, drop_running_lines, mend_hyphens
from tests.helpers import check_verbatim

HEADER = "Institute for the Study of War | Russian Offensive Campaign Assessment, March 3, 2023"


def pdf(pages: list[list[str]], *, header: str | None = HEADER, footer: bool = True) -> bytes:
    """Each page's lines drawn top to bottom, under a running header and over a footer with its number."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setTitle("Assessment")
    for number, lines in enumerate(pages, 1):
        if header:
            c.setFont("Helvetica", 8)
            c.drawString(40, 815, header)
        c.setFont("Helvetica", 11)
        for i, line in enumerate(lines):
            c.drawString(40, 780 - 14 * i, line)
        if footer:
            c.setFont("Helvetica", 8)
            c.drawString(40, 42, "© 2023 Institute for the Study of War. understandingwar.org")
            c.drawString(280, 30, f"Page {number} of {len(pages)}")
        c.showPage()
    c.save()
    return out.getvalue()


PAGES = [
    ["Russian forces continued offensive operations around Bakhmut on March 3.",
     "Ukrainian officials reported that Wagner Group fighters made marginal",
     "gains north of the city. The Russian offen-",
     "sive near Vuhledar stalled, and the Russian-",
     "backed authorities of occupied Zaporiz-",
     "hzhia Oblast announced an evacuation of Zaporizhzhia residents. Russian",
     "milbloggers claimed that Russian forces reached the outskirts of"],
    ["Khromove, west of Bakhmut, but ISW has not observed confirmation of this claim.",
     "Russian-backed officials continued to deport children from the occupied territories."],
    ["Chinese President Xi Jinping committed to a peace plan that would freeze",
     "the conflict along current lines, according to Chinese state media."],
    ["Ukrainian forces counterattacked near Kreminna and regained positions."],
]


def test_running_lines_are_dropped_and_the_text_reads_on() -> None:
    doc = load_bytes(pdf(PAGES), "assessment.pdf")
    assert doc.text.count("Institute for the Study of War |") == 1  # the first page's, as its title
    assert "Page 2 of 4" not in doc.text and "understandingwar.org" not in doc.text
    header, *paragraphs = doc.text.split("\n\n")
    assert header == HEADER
    assert paragraphs[0] == (
        "Russian forces continued offensive operations around Bakhmut on March 3. Ukrainian officials "
        "reported that Wagner Group fighters made marginal gains north of the city. The Russian offensive "
        "near Vuhledar stalled, and the Russian-backed authorities of occupied Zaporizhzhia Oblast announced "
        "an evacuation of Zaporizhzhia residents. Russian milbloggers claimed that Russian forces reached the "
        "outskirts of Khromove, west of Bakhmut, but ISW has not observed confirmation of this claim. "
        "Russian-backed officials continued to deport children from the occupied territories.")
    assert paragraphs[1].startswith("Chinese President Xi Jinping committed") and len(paragraphs) == 3
    # The sentence cut by the first page break starts on page 1; the one after it is on page 2.
    assert doc.page_at(doc.text.index("Russian milbloggers")) == 1
    assert doc.page_at(doc.text.index("Russian-backed officials")) == 2
    assert doc.page_at(doc.text.index("Ukrainian forces counterattacked")) == 4


def test_paragraphs_and_headings_are_read_from_short_lines() -> None:
    lines = ["Key Takeaways",
             "Russian forces conducted limited ground attacks northeast of Kupiansk and along the Svatove-",
             "Kreminna line on March 3. Ukrainian officials reported that Russian forces fired on Kupiansk",
             "with artillery throughout the day.",
             "The Kremlin continued its information operation aimed at portraying the West as the aggressor,",
             "and Kremlin officials claimed that Western weapons deliveries prolong the war and that the",
             "United States seeks to weaken Russia.",
             "Kremlin Information Operations",
             "Russian milbloggers criticized the Russian Ministry of Defense for the slow pace of the offen-",
             "sive in Donetsk Oblast and for the poor supply of ammunition to units fighting near Vuhledar",
             "in 2022-",
             "2023."]
    doc = load_bytes(pdf([lines, ["Another page."], ["A third."]]), "paragraphs.pdf")
    assert doc.text.split("\n\n") == [HEADER, 
        "Key Takeaways",
        "Russian forces conducted limited ground attacks northeast of Kupiansk and along the Svatove-Kreminna line "
        "on March 3. Ukrainian officials reported that Russian forces fired on Kupiansk with artillery throughout "
        "the day.",
        "The Kremlin continued its information operation aimed at portraying the West as the aggressor, and Kremlin "
        "officials claimed that Western weapons deliveries prolong the war and that the United States seeks to "
        "weaken Russia.",
        "Kremlin Information Operations",
        "Russian milbloggers criticized the Russian Ministry of Defense for the slow pace of the offensive in Donetsk "
        "Oblast and for the poor supply of ammunition to units fighting near Vuhledar in 2022-2023.",
        "Another page.", "A third."]


def test_too_few_pages_give_no_evidence_of_running_lines() -> None:
    doc = load_bytes(pdf(PAGES[:2]), "short.pdf")
    assert doc.text.count(HEADER) == 2 and "understandingwar.org" in doc.text
    assert "Page 1 of 2" not in doc.text  # a line that says "page" and counts them: two pages suffice


def test_only_lines_at_the_edges_go() -> None:
    pages = ["Title of the report\nBody one.\nTitle of the report\nBody two.\n1",
             "Title of the report\nBody three.\n2",
             "Title of the report\nBody three.\n3",
             "Body five, a page without the header.\n4"]
    # The first page keeps its running title, set apart. "Body three." on 2 of 4 pages is text.
    assert drop_running_lines(pages) == ["Title of the report\n\nBody one.\nTitle of the report\nBody two.",
                                         "Body three.", "Body three.", "Body five, a page without the header."]
    # A document that is one page's lines over and over keeps them: they are all its text.
    same = ["Russian forces shelled Kherson on Monday.\n1", "Russian forces shelled Kherson on Monday.\n2",
            "Russian forces shelled Kherson on Monday.\n3"]
    assert drop_running_lines(same) == same
    # Under half of the pages share it: a line that happens to open two pages of six is text.
    six = ["Overview\nA.", "Overview\nB.", "C.", "D.", "E.", "F."]
    assert drop_running_lines(six) == six
    # Numbers are set aside in short lines only: a longer line that differs by its numbers is text.
    towns = ["Kupiansk", "Lyman", "Siversk"]
    days = [f"Day {n}: {n + 10} Russian strikes on Kharkiv were reported\n{towns[n - 1]} held.\nPage {n}"
            for n in (1, 2, 3)]
    assert drop_running_lines(days) == [f"Day {n}: {n + 10} Russian strikes on Kharkiv were reported\n{towns[n - 1]} held."
                                        for n in (1, 2, 3)]


def test_hyphens_at_line_ends() -> None:
    def known(word: str) -> bool:
        return word in {"offensive", "counteroffensive", "long", "range", "well", "known"}

    pages = ["the counter-\noffensive began; long-\nrange fires; a 2019-\n2023 series; Smith-\nJones; the pro-\nKremlin"
             " outlets; their offen-\nsive\nwas slow; a well-\nknown fact, the well-known fact; the war -\na pause"]
    assert mend_hyphens(pages, known) == [
        "the counteroffensive\nbegan; long-range\nfires; a 2019-2023\nseries; Smith-Jones;\nthe pro-Kremlin\noutlets;"
        " their offensive\nwas slow; a well-known\nfact, the well-known fact; the war -\na pause"]


def test_a_page_that_opens_mid_sentence_continues_the_one_before() -> None:
    assert continues("forces reached the outskirts of", "Khromove, west of Bakhmut")
    assert continues("forces reached the outskirts", "of the settlement of Khromove.")
    assert not continues("Figure 3: Russian positions", "Key Takeaways")
    assert continues("Russian forces, Wagner fighters,", "Chechen units and others.")
    assert not continues("The Wagner Group withdrew.", "the next day, it returned.")
    assert not continues("Key Takeaways", "")
    assert continues("12", ", according to the General Staff.")  # after a note mark on a line of its own


def test_a_pdf_answer_quotes_no_running_line(service: Briefbot, tmp_path: Path) -> None:
    path = tmp_path / "assessment.pdf"
    path.write_bytes(pdf(PAGES))
    assert service.ingest([str(path)]).count("new") == 1
    answer = service.ask("What did Xi Jinping commit to?")
    check_verbatim(service, answer)
    top = answer.passages[0]
    assert top.quote.startswith("Chinese President Xi Jinping committed to a peace plan") and top.page == 3
    assert "Institute for the Study of War" not in top.text and "Page" not in top.text


def body(n: int) -> list[str]:
    """Two full lines of prose that differ from page to page."""
    towns = ["Bakhmut", "Avdiivka", "Vuhledar", "Kreminna", "Svatove", "Kupiansk", "Marinka", "Siversk"]
    a, b = towns[n % 8], towns[(n + 3) % 8]
    return [f"Russian forces conducted limited ground attacks northwest of {a} and did not make gains near {b}.",
            f"Ukrainian officials reported that Russian forces shelled {b} with artillery and struck {a} overnight."]


def paragraphs_of(pages: list[list[str]]) -> list[str]:
    return load_bytes(pdf(pages, header=None, footer=False), "probe.pdf").text.split("\n\n")


def test_what_varies_from_page_to_page_at_the_edges_is_text() -> None:
    # Figures in a table at the foot of each page share a shape with the page number under them.
    pages = [[*body(n), "Kharkiv", f"{40 + n}", "Kherson", f"{90 + n}", f"{n}"] for n in (1, 2, 3)]
    figures = paragraphs_of([[*body(n), "2023", f"{n}.1", f"-{n}.5", f"{n}.0"] for n in (1, 2, 3, 4)])
    assert all(f"2023 {n}.1 -{n}.5 {n}.0" in " ".join(figures) for n in (1, 2, 3, 4))  # "1.0" on page 1 is no "1"
    text = "\n\n".join(paragraphs_of(pages))
    assert all(f"Kherson {90 + n}" in text for n in (1, 2, 3)) and not text.endswith(" 3")
    # A dated heading on each page ("March 3, 2023", "March 4, 2023") is text, and so is what follows.
    dated = paragraphs_of([[f"March {n + 2}, 2023", "Key Takeaways", *body(n), f"Page {n} of 3"] for n in (1, 2, 3)])
    assert [p for p in dated if p.startswith(("March", "Key"))] == [
        "March 3, 2023", "Key Takeaways", "March 4, 2023", "Key Takeaways", "March 5, 2023", "Key Takeaways"]
    assert not any("Page" in p for p in dated)


def test_running_lines_that_carry_the_page_number_or_alternate_go() -> None:
    long_head = paragraphs_of([[f"Russian Offensive Campaign Assessment | March 3, 2023 | Page {n}", *body(n)]
                               for n in (1, 2, 3, 4)])
    assert not any("Assessment |" in p for p in long_head)
    facing = paragraphs_of([["Iran Update" if n % 2 else "March 3, 2023", *body(n), f"{n}"] for n in range(1, 6)])
    assert facing[0] == "Iran Update" and not any(p in ("Iran Update", "March 3, 2023") for p in facing[1:])
    assert all(not p.endswith(tuple("12345")) for p in facing)


def test_a_heading_under_a_full_line_stands_alone_and_list_items_keep_their_lines() -> None:
    lines = [*body(1), "the Ukrainian General Staff reported that Russian forces shelled Kherson City with artillery.",
             "Southern Axis", *body(2),
             "- Russian forces conducted limited ground attacks northwest of Bakhmut on March 3 and",
             "did not make any confirmed gains, according to the Ukrainian General Staff.",
             "- Ukrainian officials reported that Russian forces shelled Kherson City.",
             "Ukrainian officials said that Russian forces had lost 300 personnel and 12 armored vehicles",
             "near Vuhledar over the previous week, bringing the total this month to more than",
             "300. Casualties among Storm-Z units were very high, a Ukrainian official said."]
    got = paragraphs_of([lines, body(3), body(4)])
    assert "Southern Axis" in got
    assert ("- Russian forces conducted limited ground attacks northwest of Bakhmut on March 3 and did not make any "
            "confirmed gains, according to the Ukrainian General Staff.") in got
    assert any("bringing the total this month to more than 300. Casualties among" in p for p in got)


def test_hyphens_are_judged_by_the_reports_own_spelling() -> None:
    got = " ".join(paragraphs_of([["Fighting continued along the Svatove-Kreminna line, where Russian forces attacked.",
                                   "Russian forces continued attacks along the Svatove-Kre-",
                                   "minna line on March 3. Ukrainian officials said the milblog-",
                                   "gers exaggerated the gains near Bilohorivka, and long-",
                                   "range fires continued."]]))
    assert "along the Svatove-Kreminna line on March 3" in got and "the milbloggers exaggerated" in got
    assert "long-range fires" in got  # two English words: a compound


@pytest.mark.parametrize("pattern", ["a", "ab-\n", "x-", "1 ", "Page 1\n", "a-b-", "of\n", "- \n"])
def test_no_page_pattern_costs_more_than_linear_time(pattern: str) -> None:
    """A pattern repeated into pages of 20 KB and of 80 KB: 4x the text may not cost ~16x the time (a
    rescan of a long run of letters from each position would; the fuzz test of the loaders holds
    the other readers to the same)."""
    import time

    from index.pdftext import read

    def cost(size: int) -> float:
        pages = [pattern * (size // len(pattern))] * 3
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            read(pages, lambda word: False)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = cost(20_000), cost(80_000)
    assert large < 10 * small + 0.05, (pattern, small, large)
