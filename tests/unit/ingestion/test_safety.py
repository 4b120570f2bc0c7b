"""Bad input ends in an IngestionError subclass with an actionable message."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ingestion.detect import detect_type
from ingestion.errors import (
    ArchiveBomb,
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    OcrUnavailable,
    TooLarge,
    UnsupportedType,
)
from ingestion.parse import parse_document
from ingestion.safety import sanitize_filename
from tests.unit.ingestion.conftest import make_pdf

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"/>'
)


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, "PNG")
    return buffer.getvalue()


def test_type_comes_from_content_not_extension(tmp_path: Path):
    assert detect_type(png_bytes(), "report.pdf") == "png"
    assert detect_type(b"%PDF-1.7\n...", "scan.png") == "pdf"
    assert detect_type(b"\xff\xd8\xff\xe0\x00\x10JFIF", "x.txt") == "jpeg"
    assert detect_type(b"<!DOCTYPE html><html><body>x</body></html>", "notes.txt") == "html"
    assert detect_type(b"a,b\n1,2\n", "data.csv") == "csv"
    assert detect_type(b"a,b\n1,2\n", "data.txt") == "text"
    assert detect_type(b"# Title\n\n- item\n- item 2\n", "README") == "markdown"
    assert detect_type("한국어 메모".encode("cp949"), "memo") == "text"
    assert detect_type("한국어 메모".encode("utf-16"), "memo.txt") == "text"


def test_pdf_named_png_is_parsed_as_image(tmp_path: Path):
    path = tmp_path / "really-a-picture.pdf"
    path.write_bytes(png_bytes())
    # The blank picture reaches the image parser: OCR runs (or is unavailable),
    # never the PDF parser.
    with pytest.raises((EmptyDocument, OcrUnavailable)) as info:
        parse_document(path, path.name)
    assert "PDF" not in str(info.value)
    assert "PNG image" in str(info.value) or "OCR" in str(info.value)


def test_unsupported_binary_names_what_it_is(tmp_path: Path):
    with pytest.raises(UnsupportedType, match=r"GIF image.*Supported types: PDF"):
        detect_type(b"GIF89a" + b"\x00" * 50, "photo.pdf")
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UnsupportedType, match="binary file"):
        parse_document(path, "blob.bin")
    archive = tmp_path / "plain.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(UnsupportedType, match="ZIP archive"):
        parse_document(archive, "plain.docx")


def test_a_legacy_office_file_is_told_what_to_do_after_what_cannot_be_read():
    """The remedy once read as "save it as .docx, which Citewise cannot read"."""
    with pytest.raises(UnsupportedType) as refused:
        detect_type(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.doc")
    message = str(refused.value)
    assert "(.doc, .xls or .ppt), which Citewise cannot read. Save it in the newer" in message


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(EmptyDocument, match="empty"):
        parse_document(path, "empty.txt")
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n \t\n")
    with pytest.raises(EmptyDocument, match="No text"):
        parse_document(blank, "blank.txt")


def test_too_large(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(TooLarge, match="limit"):
        parse_document(path, "big.txt", max_bytes=1000)


def test_encrypted_pdf(tmp_path: Path):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [[(11, "Secret plans.")]])
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(EncryptedDocument, match="Remove the password"):
        parse_document(locked, "locked.pdf")


def test_pdf_with_empty_user_password_opens(tmp_path: Path):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [[(11, "Readable text.")]])
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "restricted.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    assert [b.text for b in parse_document(path, "restricted.pdf").blocks] == ["Readable text."]


def test_corrupt_pdf(tmp_path: Path):
    good = make_pdf(tmp_path / "good.pdf", [[(11, "Text.")]]).read_bytes()
    path = tmp_path / "broken.pdf"
    path.write_bytes(good[:40] + b"\x00garbage" * 50)
    with pytest.raises((CorruptDocument, EmptyDocument), match="PDF"):
        parse_document(path, "broken.pdf")


def test_zip_bomb_disguised_as_docx(tmp_path: Path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("word/document.xml", b"<w:document>" + b" " * (30 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    with pytest.raises(ArchiveBomb, match=r"compressed .* times"):
        parse_document(path, "bomb.docx")


def test_too_many_entries(tmp_path: Path):
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        for i in range(10_001):
            z.writestr(f"xl/worksheets/s{i}.xml", "")
    with pytest.raises(ArchiveBomb, match="10,002 archive entries"):
        parse_document(path, "many.xlsx")


def test_billion_laughs_inside_docx(tmp_path: Path):
    import docx

    source = tmp_path / "source.docx"
    document = docx.Document()
    document.add_paragraph("harmless")
    document.save(str(source))
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    evil = tmp_path / "evil.docx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "word/document.xml":
                xml = data.decode("utf-8")
                declaration, _, rest = xml.partition("?>")
                data = (f"{declaration}?><!DOCTYPE w:document [{entities}]>"
                        + rest.replace("harmless", "&lol9;")).encode("utf-8")
            dst.writestr(item, data)
    with pytest.raises(CorruptDocument, match="document type declaration"):
        parse_document(evil, "evil.docx")


def test_corrupt_docx_is_named(tmp_path: Path):
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("word/document.xml", "<not really")
    with pytest.raises(CorruptDocument, match=r"Word \(.docx\)"):
        parse_document(path, "broken.docx")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\보고서.docx", "보고서.docx"),
        ("a\x00b\nc\u202e.pdf", "abc.pdf"),
        ("..", "document"),
        ("CON.txt", "_CON.txt"),
        ("what?<>.txt", "what___.txt"),
    ],
)
def test_sanitize_filename(raw: str, expected: str):
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_limits_length_on_character_boundaries():
    name = sanitize_filename("가" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode("utf-8")) <= 200
    assert set(name[:-4]) == {"가"}
