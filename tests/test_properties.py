"""Properties over arbitrary text: every chunk, sentence and quote is verbatim at its offsets."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Briefbot, LoadError
from index.answer import QUOTE_MAX, pick_quote
from index.chunk import chunk_text
from index.load import load_bytes
from tests.helpers import check_verbatim

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
texty = st.lists(
    st.one_of(words, st.sampled_from([". ", "\n", "\n\n", " ", "Mr. ", "U.S. ", "? ", "!\n", "\u200b", "\t", "—"])),
    max_size=400,
).map("".join)


@given(texty)
@settings(max_examples=400, deadline=None)
def test_chunks_and_sentences_are_spans_of_the_text(raw: str) -> None:
    try:
        doc = load_bytes(raw.encode("utf-8"), "x.txt")
    except LoadError:
        return  # empty or binary-looking input is refused with a reason, which is allowed
    text = doc.text
    previous_end = 0
    for chunk in chunk_text(text):
        assert previous_end <= chunk.start < chunk.end <= len(text)
        assert text[chunk.start:chunk.end].strip() == text[chunk.start:chunk.end]
        for s, e in chunk.sentences:
            assert chunk.start <= s < e <= chunk.end
            assert text[s:e].strip()
        previous_end = chunk.end


def test_a_heading_leads_the_text_that_follows_it() -> None:
    body = " ".join(f"Sentence {i} of the long paragraph says something." for i in range(60))  # ~360 words
    text = (f"# Campaign Assessment, June 26, 2022\n\nJune 26, 4:30pm ET\n\n{body}\n\n"
            f"Key Takeaways (Russian objective: hold the line)\n\n{body}")
    chunks = chunk_text(text)
    texts = [text[c.start:c.end] for c in chunks]
    assert texts[0].startswith("# Campaign Assessment, June 26, 2022\n\nJune 26, 4:30pm ET\n\nSentence 0 ")
    heading = text.index("Key Takeaways")
    assert any(c.start == heading and text[c.start:c.end].endswith(".") for c in chunks)
    assert all(len(t.split()) >= 80 for t in texts)  # no chunk is a bare heading


@given(texty, st.lists(st.floats(-1, 2), min_size=1, max_size=30), st.lists(words, max_size=5))
@settings(max_examples=300, deadline=None)
def test_quotes_stay_inside_their_chunk(raw: str, scores: list[float], query: list[str]) -> None:
    text = " ".join(raw.split()) or "x"
    base = 1000
    chunks = chunk_text(text)
    if not chunks:
        return
    chunk = chunks[0]
    spans = [(s + base, e + base) for s, e in chunk.sentences]
    body = text[chunk.start:chunk.end]
    ranked = (scores * len(spans))[: len(spans)]
    s, e = pick_quote(body, chunk.start + base, spans, ranked, query)
    assert chunk.start + base <= s < e <= chunk.end + base
    assert e - s <= QUOTE_MAX


@given(st.lists(st.text(min_size=20, max_size=300), min_size=1, max_size=4), words)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_end_to_end_answers_are_verbatim(service: Briefbot, paragraphs: list[str], question: str) -> None:
    data = "\n\n".join(paragraphs).encode("utf-8")
    item = service.ingest_bytes(data, "doc.txt", "upload:doc")
    if item.status == "failed":
        assert item.reason and "\n" not in item.reason
        return
    if not question.strip():
        return
    answer = service.ask(question[:200])
    check_verbatim(service, answer)
