"""Every sentence a chunk holds is located on the line (a text, Markdown or CSV file's
line as an editor numbers it; a spreadsheet's row as Excel numbers it) it starts on in
the file, whatever line its passage starts on (issue 10, "Must work" 2)."""

from __future__ import annotations

from pathlib import Path

from ingestion.chunker import ChunkDraft, Location, chunk_document, quoted_location
from ingestion.parse import parse_document
from tests.unit.ingestion.conftest import words


def line_of(chunks: list[ChunkDraft], sentence: str) -> Location:
    (chunk,) = [chunk for chunk in chunks if sentence in chunk.text][:1]
    return quoted_location(chunk.text, list(chunk.locations), sentence)


def file_line(path: Path, words_on_it: str) -> int:
    """The 1-based number of the first line holding `words_on_it`, as an editor shows it."""
    lines = path.read_bytes().decode("utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if words_on_it in line)


def test_a_spreadsheet_row_is_located_by_its_row_number_on_its_sheet(tmp_path: Path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Summary"
    workbook.active.append(["Owner", "Facilities team"])
    prices = workbook.create_sheet("Prices")
    prices["A1"] = "Canteen price list"  # a title row, then a gap, then the table
    prices.append([])
    prices.append(["Item", "Price"])
    for row in range(4, 12):
        prices.append([f"Dish {row}", row])
    prices.append(["Bibimbap", "7,500 won"])  # row 12
    prices.row_dimensions[5].hidden = True
    path = tmp_path / "canteen.xlsx"
    workbook.save(str(path))
    chunks = chunk_document(parse_document(path, "canteen.xlsx"), words, max_tokens=60)
    found = line_of(chunks, "Item: Bibimbap; Price: 7,500 won")
    assert (found.heading_path, found.line) == (("Prices",), 12)
    assert line_of(chunks, "Item: Dish 6").line == 6  # after a hidden row: Excel's numbers
    assert line_of(chunks, "Owner: Facilities team").line == 1


def test_a_csv_record_is_located_on_its_line_counting_the_header_and_quoted_breaks(
        tmp_path: Path):
    rows = ["Code;Meaning"]
    rows += [f"E{n};Error number {n}" for n in range(2, 30)]
    rows += ['E30;"Paper jam:\r\nopen tray 2"', ""]  # a record over two lines, a blank line
    rows += [f"E{n};Error number {n}" for n in range(33, 40)]
    rows += ["E40;Toner cartridge is empty"]
    path = tmp_path / "errors.csv"
    path.write_bytes("\r\n".join(rows).encode())
    assert file_line(path, "Toner cartridge") == 40
    chunks = chunk_document(parse_document(path, "errors.csv"), words, max_tokens=40)
    assert line_of(chunks, "Code: E40; Meaning: Toner cartridge is empty").line == 40
    assert line_of(chunks, "Code: E30").line == 30
    assert line_of(chunks, "Code: E33").line == 33


def test_a_markdown_sentence_is_located_on_the_line_it_starts_on(tmp_path: Path):
    path = tmp_path / "guide.md"
    path.write_text(
        "---\ntitle: Office guide\n---\n"
        "# Office guide\n\n<!-- reviewed\n   in March -->\n"
        "The office opens at eight. Visitors sign in at the front\n"
        "desk. Parking permits are issued by the\n"
        "**facilities team** on the second floor.\n\n"
        "```\nbadge --renew\n\nbadge --print\n```\n\n"
        "| Room | Floor |\n|---|---|\n| Atlas | 7 |\n")
    chunks = chunk_document(parse_document(path, "guide.md"), words, max_tokens=25,
                            overlap_tokens=0)
    assert line_of(chunks, "The office opens").line == file_line(path, "office opens") == 8
    assert line_of(chunks, "Visitors sign in").line == 8
    assert line_of(chunks, "Parking permits").line == file_line(path, "Parking") == 9
    assert line_of(chunks, "badge --print").line == file_line(path, "--print")
    assert line_of(chunks, "Room: Atlas").line == file_line(path, "Atlas")


def test_a_plain_text_sentence_is_located_on_its_line_after_blank_runs(tmp_path: Path):
    path = tmp_path / "policy.txt"
    path.write_text("Leave policy\n\n\n\nStaff take leave after asking\nthe manager. Requests "
                    "are\nanswered within two days.\n\n\n1.2 Scope\nThis covers all staff.\n")
    chunks = chunk_document(parse_document(path, "policy.txt"), words, max_tokens=8,
                            overlap_tokens=0)
    assert line_of(chunks, "Requests are answered").line == file_line(path, "Requests") == 6
    assert line_of(chunks, "This covers all staff.").line == file_line(path, "covers") == 11


def test_formats_without_lines_locate_no_line(tmp_path: Path):
    from docx import Document

    document = Document()
    document.add_paragraph("The office opens at eight.")
    path = tmp_path / "guide.docx"
    document.save(str(path))
    chunks = chunk_document(parse_document(path, "guide.docx"), words)
    assert line_of(chunks, "The office opens").line is None
    assert Location.from_json([0, 3, ["A"]]) == Location(0, 3, ("A",), None)


def test_a_spreadsheet_passage_cited_without_a_quote_is_placed_on_its_first_row(
        tmp_path: Path):
    """A model may cite a passage without quoting it; a passage opening with its sheet's
    name (a heading on no row) is then placed on the first row under it, not nowhere."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Prices"
    workbook.active.append(["Item", "Price"])
    workbook.active.append(["Bibimbap", "7,500 won"])
    path = tmp_path / "canteen.xlsx"
    workbook.save(str(path))
    (chunk,) = chunk_document(parse_document(path, "canteen.xlsx"), words, max_tokens=60)
    assert chunk.text.startswith("Prices")
    found = quoted_location(chunk.text, list(chunk.locations), "")
    # Row 2: the header row is not a passage row of its own (its names label each record).
    assert (found.heading_path, found.line) == (("Prices",), 2)
