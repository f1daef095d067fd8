"""A .docx is read as Word shows it: tables, content controls, text boxes, tracked changes as
accepted, footnotes and endnotes; headers and footers left out. The files are real Word packages
(python-docx writes them) whose body is WordprocessingML of the kinds Word and LibreOffice save."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from index import Briefbot
from index.load import load_bytes
from tests.helpers import check_verbatim

NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
      'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
      'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
      'xmlns:v="urn:schemas-microsoft-com:vml"')
CHANGE = 'w:author="An Editor" w:date="2023-03-01T00:00:00Z"'


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def para(*inner: str) -> str:
    return f"<w:p>{''.join(inner)}</w:p>"


def cell(*paras: str) -> str:
    return f"<w:tc>{''.join(paras)}</w:tc>"


def table(*rows: list[str]) -> str:
    return "<w:tbl>" + "".join("<w:tr>" + "".join(r) + "</w:tr>" for r in rows) + "</w:tbl>"


def note_part(kind: str, notes: dict[int, str]) -> bytes:
    """A footnotes.xml or endnotes.xml with Word's two separator notes and the given notes."""
    body = (f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
            f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
            f'</w:{kind}>')
    for note_id, text in notes.items():
        body += (f'<w:{kind} w:id="{note_id}"><w:p><w:r><w:{kind}Ref/></w:r>{run(" " + text)}</w:p></w:{kind}>')
    return f"<w:{kind}s {NS}>{body}</w:{kind}s>".encode()


def word_file(body: str, *, footnotes: dict[int, str] | None = None, endnotes: dict[int, str] | None = None,
              header: str | None = None, title: str = "A Word report") -> bytes:
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml

    document = docx.Document()
    document.core_properties.title = title
    element = document.element.body
    section = element[-1]  # the w:sectPr stays last
    for child in parse_xml(f"<w:body {NS}>{body}</w:body>"):
        section.addprevious(child)
    kinds = (("footnote", footnotes, RT.FOOTNOTES), ("endnote", endnotes, RT.ENDNOTES))
    for kind, notes, reltype in kinds:
        if notes is not None:
            content_type = f"application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}s+xml"
            part = Part(PackURI(f"/word/{kind}s.xml"), content_type, note_part(kind, notes), document.part.package)
            document.part.relate_to(part, reltype)
    if header is not None:
        document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def read(data: bytes) -> list[str]:
    return load_bytes(data, "report.docx").text.split("\n\n")


def test_a_table_row_is_a_paragraph_of_its_cells() -> None:
    inner = table([cell(para(run("Brigade"))), cell(para(run("Sector")))])
    data = word_file(para(run("Forces around Bakhmut, by unit:"))
                     + table([cell(para(run("Unit"))), cell(para(run("Position")))],
                             [cell(para(run("93rd Mechanized"))), cell(para(run("north of")), para(run("Bakhmut")))],
                             [cell(), cell(para(run("(vacated)")))],  # a merged cell's empty continuation
                             [cell(para(run("Reserve"))), cell(inner)])
                     + para(run("The table ends here.")))
    assert read(data) == ["Forces around Bakhmut, by unit:", "Unit | Position", "93rd Mechanized | north of Bakhmut",
                          "(vacated)", "Reserve | Brigade | Sector", "The table ends here."]


def test_tracked_changes_are_read_as_accepted() -> None:
    data = word_file(
        para(run("Xi committed to "),
             f'<w:ins w:id="1" {CHANGE}>{run("a ceasefire ")}</w:ins>',
             f'<w:del w:id="2" {CHANGE}><w:r><w:delText>nothing </w:delText></w:r></w:del>',
             run("by March."))
        + para(f'<w:moveFrom w:id="3" {CHANGE}>{run("Moved sentence.")}</w:moveFrom>', run("Kept."))
        + para(f'<w:moveTo w:id="4" {CHANGE}>{run("Moved sentence.")}</w:moveTo>')
        + table([cell(para(run("Row kept")))],
                [f'<w:trPr><w:del w:id="5" {CHANGE}/></w:trPr>' + cell(para(run("Row deleted")))]))
    assert read(data) == ["Xi committed to a ceasefire by March.", "Kept.", "Moved sentence.", "Row kept"]
    merged = word_file(f'<w:p><w:pPr><w:rPr><w:del w:id="6" {CHANGE}/></w:rPr></w:pPr>{run("Ukrainian officials reported")}'
                       f'</w:p>{para(run(" that Russian forces withdrew."))}{para(run("Next."))}')
    assert read(merged) == ["Ukrainian officials reported that Russian forces withdrew.", "Next."]


def test_content_controls_and_text_boxes_are_read_once() -> None:
    box = f"<w:txbxContent>{para(run('Box: 40 percent of grain went by rail.'))}</w:txbxContent>"
    shape = ("<w:r><mc:AlternateContent>"
             f"<mc:Choice Requires=\"wps\"><w:drawing><wps:txbx>{box}</wps:txbx></w:drawing></mc:Choice>"
             f"<mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>"
             "</mc:AlternateContent></w:r>")
    data = word_file(f"<w:sdt><w:sdtPr><w:alias w:val=\"Summary\"/></w:sdtPr><w:sdtContent>"
                     f"{para(run('Summary in a content control.'))}</w:sdtContent></w:sdt>"
                     + para(run("The anchor paragraph."), shape)
                     + para(run("After the box.")), header="CONFIDENTIAL - Page header")
    assert read(data) == ["Summary in a content control.", "The anchor paragraph.",
                          "Box: 40 percent of grain went by rail.", "After the box."]


def test_hidden_text_and_placeholders_are_not_read() -> None:
    hidden = '<w:r><w:rPr><w:vanish/></w:rPr><w:t xml:space="preserve">INTERNAL: verify with desk. </w:t></w:r>'
    placeholder = ('<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>'
                   f'{run("Click or tap here to enter text.")}</w:sdtContent></w:sdt>')
    filled = f'<w:sdt><w:sdtPr/><w:sdtContent>{run("Jane Doe")}</w:sdtContent></w:sdt>'
    data = word_file(para(run("Russian forces shelled Kherson. "), hidden, run("Two civilians were killed."))
                     + para(run("Reviewer: "), placeholder) + para(run("Author: "), filled))
    assert read(data) == ["Russian forces shelled Kherson. Two civilians were killed.", "Reviewer:", "Author: Jane Doe"]


def test_notes_follow_the_body_with_their_marks() -> None:
    data = word_file(
        para(run("Moscow denied it."), '<w:r><w:footnoteReference w:id="7"/></w:r>',
             run(" Kyiv confirmed it."), '<w:r><w:footnoteReference w:id="3"/></w:r>')
        + para(run("A later claim."), '<w:r><w:endnoteReference w:id="2"/></w:r>',
               run(" Again."), '<w:r><w:footnoteReference w:id="7"/></w:r>'),
        footnotes={3: "Kyiv Independent, 3 March 2023.", 7: "TASS, 2 March 2023.", 9: "A note never referred to."},
        endnotes={2: "Interview with an official, Vienna."})
    assert read(data) == ["Moscow denied it.[1] Kyiv confirmed it.[2]", "A later claim.[i] Again.[1]",
                          "[1] TASS, 2 March 2023.", "[2] Kyiv Independent, 3 March 2023.",
                          "[i] Interview with an official, Vienna."]


def test_a_reference_to_a_missing_notes_part_keeps_its_mark_only() -> None:
    data = word_file(para(run("A claim."), '<w:r><w:footnoteReference w:id="1"/></w:r>'))
    assert read(data) == ["A claim.[1]"]


@pytest.mark.parametrize("where", ["table", "insertion", "footnote", "text box"])
def test_what_was_dropped_before_is_found_and_quoted(service: Briefbot, tmp_path: Path, where: str) -> None:
    fact = "The grain corridor carried 32 million tonnes through Odesa ports before July."
    filler = para(run("The harvest in the south was late this year because of the rain in spring."))
    body = {
        "table": table([cell(para(run("Corridor"))), cell(para(run(fact)))]),
        "insertion": para(f'<w:ins w:id="1" {CHANGE}>{run(fact)}</w:ins>'),
        "footnote": para(run("Shipping resumed."), '<w:r><w:footnoteReference w:id="1"/></w:r>'),
        "text box": para(run("See the box."), f"<w:r><w:drawing><wps:txbx><w:txbxContent>{para(run(fact))}"
                                              "</w:txbxContent></wps:txbx></w:drawing></w:r>"),
    }[where]
    path = tmp_path / "grain.docx"
    path.write_bytes(word_file(filler + body, footnotes={1: fact} if where == "footnote" else None))
    assert service.ingest([str(path)]).count("new") == 1
    answer = service.ask("How many tonnes did the grain corridor carry through Odesa?")
    check_verbatim(service, answer)
    assert answer.passages and "32 million tonnes" in answer.passages[0].quote
