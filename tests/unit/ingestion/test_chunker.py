"""The chunker's rules and its citation invariant."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from ingestion.blocks import Block, ParsedDocument
from ingestion.chunker import ChunkDraft, chunk_document, extracted_text, quoted_location
from ingestion.parse import parse_document
from tests.unit.ingestion.conftest import make_deck, make_pdf, words


def assert_invariant(doc: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    """text[char_start:char_end] is the chunk's passage; c.text is that passage, or
    for a table continuation, the table header + newline + that passage."""
    text = extracted_text(doc)
    headers = {b.text for b in doc.blocks if b.kind == "table_header"}
    for chunk in chunks:
        passage = text[chunk.char_start : chunk.char_end]
        if chunk.text != passage:
            header, _, rest = chunk.text.partition("\n")
            assert header in headers and rest == passage, chunk


def section(title: str, body: list[str], page: int | None = None) -> list[Block]:
    path = (title,)
    return [Block(title, page=page, heading_path=path, kind="heading")] + [
        Block(text, page=page, heading_path=path) for text in body
    ]


def long_english(n: int) -> str:
    return " ".join(f"Sentence {i} explains one detail of the retention policy." for i in range(n))


def test_extracted_text_joins_blocks_with_blank_lines():
    doc = ParsedDocument([Block("a"), Block("b")], "text", None, None)
    assert extracted_text(doc) == "a\n\nb"


def test_budget_sections_overlap_and_invariant_with_word_counter():
    doc = ParsedDocument(
        section("Retention", [long_english(40)]) + section("Access", [long_english(25)]),
        "text", None, None,
    )
    chunks = chunk_document(doc, words, max_tokens=50, overlap_tokens=10)
    assert_invariant(doc, chunks)
    assert all(c.token_count <= 50 for c in chunks)
    assert all(c.token_count == words(c.text) for c in chunks)
    # No chunk straddles the two big sections.
    assert [c.heading_path for c in chunks] == sorted(
        (c.heading_path for c in chunks), key=lambda p: p != ("Retention",)
    )
    text = extracted_text(doc)
    access_start = text.index("Access")
    assert all(not (c.char_start < access_start < c.char_end) for c in chunks)
    # Consecutive chunks of a section overlap by whole sentences.
    retention = [c for c in chunks if c.heading_path == ("Retention",)]
    assert len(retention) > 2
    for first, second in pairwise(retention):
        assert second.char_start < first.char_end
        assert text[second.char_start : second.char_start + 8] == "Sentence"


def test_tiny_sections_merge_with_neighbours():
    doc = ParsedDocument(
        section("Intro", ["Short."]) + section("Scope", ["Also short."])
        + section("Policy", [long_english(3)]),
        "text", None, None,
    )
    chunks = chunk_document(doc, words, max_tokens=100)
    assert len(chunks) == 1
    assert_invariant(doc, chunks)
    assert chunks[0].heading_path == ()


def test_table_header_repeated_on_each_chunk_of_rows():
    path = ("Prices",)
    blocks = [Block("Item | Price | Note", heading_path=path, kind="table_header")] + [
        Block(f"Item: thing {i}; Price: {i * 100}; Note: ok", heading_path=path, kind="table_row")
        for i in range(30)
    ]
    doc = ParsedDocument(blocks, "csv", None, None)
    chunks = chunk_document(doc, words, max_tokens=40, overlap_tokens=0)
    assert len(chunks) > 3
    assert_invariant(doc, chunks)
    for chunk in chunks:
        assert chunk.text.startswith("Item | Price | Note")
        assert chunk.token_count <= 40
    all_rows = "".join(c.text for c in chunks)
    assert all(f"thing {i};" in all_rows for i in range(30))


def test_page_ranges_follow_blocks():
    doc = ParsedDocument(
        [Block(long_english(4), page=1, heading_path=("A",)),
         Block(long_english(4), page=2, heading_path=("A",)),
         Block(long_english(4), page=3, heading_path=("A",))],
        "pdf", 3, None,
    )
    chunks = chunk_document(doc, words, max_tokens=60, overlap_tokens=0)
    assert_invariant(doc, chunks)
    assert (chunks[0].page_start, chunks[-1].page_end) == (1, 3)
    assert all(c.page_start <= c.page_end for c in chunks)
    assert any(c.page_start != c.page_end for c in chunks)


def test_overlong_sentence_split_by_words_and_cjk_by_characters():
    doc = ParsedDocument([Block("word " * 120 + "end."), Block("가" * 300)], "text", None, None)
    chunks = chunk_document(doc, lambda s: len(s.split()) + s.count("가") // 10,
                            max_tokens=20, overlap_tokens=0)
    assert_invariant(doc, chunks)
    assert all(c.token_count <= 20 for c in chunks)
    assert sum(c.text.count("가") for c in chunks) == 300


def test_korean_chunks_split_at_sentence_ends(minilm_count):
    sentences = [f"{i}번째 규정은 보안 담당자가 매달 검토합니다." for i in range(60)]
    doc = ParsedDocument(section("보안 정책", [" ".join(sentences)]), "text", None, None)
    chunks = chunk_document(doc, minilm_count, max_tokens=128, overlap_tokens=16)
    assert len(chunks) > 2
    assert_invariant(doc, chunks)
    for chunk in chunks:
        assert chunk.token_count <= 128
        assert chunk.text.endswith("검토합니다.")
        assert chunk.heading_path == ("보안 정책",)


def test_real_tokenizer_budget_on_a_parsed_pdf(tmp_path: Path, minilm_count):
    pages = [[(18, f"Chapter {p}"), (11, long_english(30))] for p in range(1, 4)]
    path = make_pdf(tmp_path / "policy.pdf", pages)
    doc = parse_document(path, "policy.pdf")
    chunks = chunk_document(doc, minilm_count, max_tokens=96, overlap_tokens=16)
    assert_invariant(doc, chunks)
    assert all(c.token_count <= 96 for c in chunks)
    assert all(c.token_count == minilm_count(c.text) for c in chunks)
    for chunk in chunks:
        chapter = int(chunk.heading_path[-1].split()[-1])
        assert chunk.page_start == chunk.page_end == chapter


def assert_locations(doc: ParsedDocument, chunks: list[ChunkDraft]) -> int:
    """Every sentence a chunk holds is located on its own block's page and section, not
    the chunk's first page; returns how many (block, chunk) pairs were checked. Headings
    and table headers are left out: a continued table repeats its header elsewhere."""
    checked = 0
    for chunk in chunks:
        for block in doc.blocks:
            if block.text in chunk.text and block.kind not in {"heading", "table_header"}:
                found = quoted_location(chunk.text, list(chunk.locations), block.text)
                assert (found.page, found.heading_path) == (block.page, block.heading_path)
                checked += 1
    return checked


def test_a_passage_over_several_slides_locates_each_sentence_on_its_slide(tmp_path: Path):
    path = make_deck(tmp_path / "day.pptx", [("Welcome", "The kickoff starts at nine."),
                                             ("Lunch", "Lunch is served in the atrium."),
                                             ("Parking", "Visitors park on level B1.")])
    doc = parse_document(path, "day.pptx")
    chunks = chunk_document(doc, words, max_tokens=100)
    assert len(chunks) == 1 and (chunks[0].page_start, chunks[0].page_end) == (1, 3)
    found = quoted_location(chunks[0].text, list(chunks[0].locations),
                            "Visitors park on level B1.")
    assert (found.page, found.heading_path) == (3, ("Parking",))
    assert assert_locations(doc, chunks) == 3


def test_a_passage_over_several_sheets_locates_each_row_on_its_sheet(tmp_path: Path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Devices"
    workbook.active.append(["Item", "Category"])
    workbook.active.append(["Headset", "Audio"])
    rooms = workbook.create_sheet("Rooms")
    rooms.append(["Room", "Floor"])
    rooms.append(["Atlas", "7"])
    path = tmp_path / "inventory.xlsx"
    workbook.save(str(path))
    doc = parse_document(path, "inventory.xlsx")
    chunks = chunk_document(doc, words, max_tokens=100)
    assert len(chunks) == 1
    found = quoted_location(chunks[0].text, list(chunks[0].locations), "Room: Atlas; Floor: 7")
    assert found.heading_path == ("Rooms",)
    assert assert_locations(doc, chunks) == 2


def test_locations_of_a_table_continued_over_pages_with_its_header_repeated():
    hours = [("Mon", "9-5"), ("Tue", "9-5"), ("Wed", "9-6"), ("Thu", "9-5"), ("Fri", "9-4"),
             ("Sat", "10-2")]
    rows = [Block(f"Day: {day}; Hours: {time}", page=1 + i // 3, heading_path=("Hours",),
                  kind="table_row") for i, (day, time) in enumerate(hours)]
    doc = ParsedDocument([Block("Hours", page=1, heading_path=("Hours",), kind="heading"),
                          Block("Day | Hours", page=1, heading_path=("Hours",),
                                kind="table_header"), *rows], "pdf", 2, None)
    chunks = chunk_document(doc, words, max_tokens=12, overlap_tokens=0)
    assert len(chunks) > 2 and any(c.text.startswith("Day | Hours\n") for c in chunks[1:])
    assert assert_locations(doc, chunks) == len(rows)


MIGRATION = ["To move a deployment from FAISS to Milvus (or back):",
             "1. rebuild the indexes into Milvus while the current store keeps serving;",
             "2. set CITEWISE_VECTOR_STORE for every web process and worker and restart them;",
             "3. run step 1 again, or pause uploads during the move."]


def test_a_list_that_is_one_sentence_stays_in_one_chunk():
    """The demo's "Rebuilding indexes" was cut after step 1, so no passage held the list
    and the extractive backend could not quote it (textproc.sentences.list_sentences)."""
    doc = ParsedDocument(section("Rebuilding indexes", [long_english(4), *MIGRATION]),
                         "text", None, None)
    # Without the rule, a 64-word budget cuts the list after its first step.
    chunks = chunk_document(doc, words, max_tokens=64, overlap_tokens=10)
    assert_invariant(doc, chunks)
    holding = [c for c in chunks if MIGRATION[0] in c.text]
    assert holding and "\n\n".join(MIGRATION) in holding[-1].text
    assert all(c.token_count <= 64 for c in chunks)
    # Longer than the budget, it is packed sentence by sentence as before.
    assert len(chunk_document(doc, words, max_tokens=30, overlap_tokens=5)) > 2
