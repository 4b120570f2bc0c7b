"""Hostile uploads, made cheaply in memory: files that attack the parsers (bombs, entity
expansion, external entities, pathological nesting and sizes) and names that attack the
store (path traversal, Unicode tricks). Shared by the unit and worker tests and by
benchmarks/hostile_uploads.py; imports nothing of Django's.

Each case says what Citewise must make of it: `indexed` (its text searchable), or one of
the failure codes in `codes` (a FailureCode value), always with a reason."""

from __future__ import annotations

import io
import random
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

MB = 1024 * 1024
# The text a hostile file's external entity points at: it must never reach a chunk.
SECRET = "citewise-xxe-secret-7f3a9c"
INDEXED = "indexed"
# Names whose stored form is checked: none may name a folder or hide its real extension.
HOSTILE_NAMES = (
    "../../etc/passwd.txt",
    "/etc/cron.d/evil.txt",
    "..\\..\\Windows\\win.ini.txt",
    "C:\\Users\\Public\\memo.txt",
    "invoice\u202etxt.exe.txt",
    unicodedata.normalize("NFD", "보고서 초안.txt"),
    "pass\u200bword\ufeff\u200d.txt",
    "가" * 400 + ".txt",
    "x" * 5000 + ".txt",
)


@dataclass(frozen=True)
class Case:
    """One hostile upload: `name` as the person's browser sends it, `make()` its bytes,
    `codes` the failure codes it may end with ({INDEXED} when it must be indexed),
    `needle`: a phrase its chunks must hold once indexed."""

    label: str
    name: str
    make: Callable[[], bytes]
    codes: frozenset[str]
    needle: str = ""


# ---- plain text and HTML -------------------------------------------------------------

def single_line(size: int = 50 * MB) -> bytes:
    """`size` bytes of prose without a single line break."""
    sentence = b"The archive room keeps every signed contract for seven years. "
    return (sentence * (size // len(sentence) + 1))[:size]


def nul_text() -> bytes:
    lines = [f"Line {n}: the visitor badge policy applies\x00 to guests.\x00" for n in range(40)]
    return "\n".join(lines).encode()


def nul_csv() -> bytes:
    """A CSV with a stray NUL in each row, as some exports write them."""
    rows = ["city,office,phone"] + [f"Seoul,Tower {n}\x00,02-555-{n:04d}" for n in range(40)]
    return "\n".join(rows).encode()


def nested_html(depth: int = 100_000) -> bytes:
    return (b"<!DOCTYPE html><html><body>" + b"<div>" * depth + b"deep text"
            + b"</div>" * depth + b"</body></html>")


def unclosed_html(depth: int = 200_000) -> bytes:
    """Tags that never close: each parser keeps its own open-element stack."""
    return b"<!DOCTYPE html><html><body>" + b"<span><b><i>" * depth + b"end"


# ---- Office packages -----------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx(body_xml: str, *, prolog: str = "", part: str = "word/document.xml") -> bytes:
    """A minimal Word package whose main part holds `body_xml` (paragraph markup)
    after `prolog` (e.g. a DOCTYPE)."""
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
                f'<w:document xmlns:w="{W_NS}"><w:body>{body_xml}</w:body></w:document>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES.replace("/word/document.xml",
                                                                      "/" + part))
        package.writestr("_rels/.rels", ROOT_RELS.replace("word/document.xml", part))
        package.writestr(part, document)
    return buffer.getvalue()


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10))
    return docx(paragraph("&lol9;"), prolog=f"<!DOCTYPE w:document [{entities}]>")


def xxe_docx(secret_path: str, *, part: str = "word/document.xml") -> bytes:
    prolog = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret_path}">]>'
    return docx(paragraph("Leaked: &xxe;"), prolog=prolog, part=part)


def xxe_parameter_entity(secret_path: str) -> bytes:
    """The out-of-band form: a parameter entity that pulls in the file inside the DTD."""
    prolog = (f'<!DOCTYPE w:document [<!ENTITY % file SYSTEM "file://{secret_path}">'
              '<!ENTITY % wrap "<!ENTITY leak \'%file;\'>">%wrap;]>')
    return docx(paragraph("Leaked: &leak;"), prolog=prolog)


def xxe_xlsx(secret_path: str) -> bytes:
    """External entity in the sheet of an otherwise real workbook."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "Quarterly totals"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _rewrite_part(buffer.getvalue(), "xl/worksheets/sheet1.xml",
                         lambda xml: _with_entity(xml, "worksheet", secret_path,
                                                  "Quarterly totals"))


def xxe_pptx(secret_path: str) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Roadmap"
    buffer = io.BytesIO()
    deck.save(buffer)
    return _rewrite_part(buffer.getvalue(), "ppt/slides/slide1.xml",
                         lambda xml: _with_entity(xml, "p:sld", secret_path, "Roadmap"))


def _with_entity(xml: str, root: str, secret_path: str, text: str) -> str:
    """`xml` with a DOCTYPE declaring an external entity, referenced in place of `text`."""
    doctype = f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file://{secret_path}">]>'
    declaration, ends, rest = xml.partition("?>")
    head, body = (declaration + ends, rest) if ends else ("", xml)
    return head + doctype + body.replace(text, "Leaked: &xxe;", 1)


def _rewrite_part(package: bytes, part: str, change: Callable[[str], str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == part:
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(item, data)
    return out.getvalue()


def zip_bomb_docx(expanded: int = 400 * MB) -> bytes:
    """A Word file whose main part inflates `expanded` bytes of blanks (ratio ~1000)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", ROOT_RELS)
        with package.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<w:document xmlns:w="{W_NS}"><w:body>'.encode())
            block = b" " * MB
            for _ in range(expanded // MB):
                part.write(block)
            part.write(b"</w:body></w:document>")
    return buffer.getvalue()


def lying_zip_bomb_docx() -> bytes:
    """A Word file whose directory declares its main part 2 KB while the data inflates
    to 200 MB: a check that trusts the declared sizes must not be fooled."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", ROOT_RELS)
        package.writestr("word/document.xml", b"<w:document>" + b" " * (200 * MB))
        real = package.getinfo("word/document.xml").file_size
    data = bytearray(buffer.getvalue())
    # The size is a 4-byte field in the local header and in the central directory.
    needle, start = real.to_bytes(4, "little"), 0
    while (at := data.find(needle, start)) != -1:
        data[at:at + 4] = (2048).to_bytes(4, "little")
        start = at + 4
    return bytes(data)


def nested_zip(depth: int = 40) -> bytes:
    """A ZIP inside a ZIP, `depth` deep, the innermost holding a text file."""
    data = b"Nested deepest note: the vault code changes monthly."
    name = "note.txt"
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    return data


def traversal_zip() -> bytes:
    """An archive whose members' names climb out of any folder they are unpacked to."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../../../tmp/citewise-zip-slip.txt",
                         "Zip slip member: the parking garage closes at midnight.")
        archive.writestr("/etc/citewise-absolute.txt",
                         "Absolute member: the canteen serves lunch from noon.")
        archive.writestr("..\\..\\citewise-backslash.txt",
                         "Backslash member: the gym opens at six.")
    return buffer.getvalue()


# ---- PDF -----------------------------------------------------------------------------

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spelled(number: int) -> str:
    return " ".join(_DIGITS[int(digit)] for digit in str(number))


def many_page_pdf(pages: int = 10_000, *, every: int = 1) -> bytes:
    """A valid PDF of `pages` pages, written directly (one shared font, one content
    stream per page, a correct cross-reference table). Each page has a running header
    and footer; every `every`th page also has, between them, a line of its own: "Entry
    9999 ships nine nine nine nine crates."."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")  # 3
    kids = []
    for number in range(1, pages + 1):
        entry = (f"BT /F1 12 Tf 72 500 Td (Entry {number} ships {spelled(number)} crates.) Tj ET "
                 if number % every == 0 else "")
        stream = (f"BT /F1 10 Tf 72 760 Td (Shipment ledger) Tj ET {entry}"
                  f"BT /F1 10 Tf 72 40 Td (Page {number}) Tj ET").encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content)
        kids.append(b"%d 0 R" % len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, b" ".join(kids))
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (object n is objects[n - 1], the catalog first)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


# ---- random bytes behind magic numbers -----------------------------------------------

MAGIC = {
    "pdf": (b"%PDF-1.7\n", ".pdf"),
    "png": (b"\x89PNG\r\n\x1a\n", ".png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ".jpg"),
    "docx": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
             b"\x00\x00\x00\x00\x00\x00\x11\x00\x00\x00word/document.xml", ".docx"),
    "xlsx": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
             b"\x00\x00\x00\x00\x00\x00\x0f\x00\x00\x00xl/workbook.xml", ".xlsx"),
    "pptx": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
             b"\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00ppt/presentation.xml", ".pptx"),
    "odt": (b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            b"\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00mimetypeapplication/vnd.oasis."
            b"opendocument.text", ".odt"),
    "html": (b"<!DOCTYPE html><html><body><p>", ".html"),
}
# What random bytes behind each magic number may end as. HTML with text after it is
# indexed or empty, with binary noise after it is not a web page (unsupported); binaries
# are damaged, empty of text, or (images) need OCR; a ZIP that is no Office package is
# unsupported. Never a code that blames Citewise (reader_fault, parser_crashed).
RANDOM_CODES = {
    "pdf": frozenset({"corrupt", "empty", "ocr_unavailable"}),
    "png": frozenset({"corrupt", "empty", "ocr_unavailable"}),
    "jpeg": frozenset({"corrupt", "empty", "ocr_unavailable"}),
    "docx": frozenset({"corrupt", "unsupported_type"}),
    "xlsx": frozenset({"corrupt", "unsupported_type"}),
    "pptx": frozenset({"corrupt", "unsupported_type"}),
    "odt": frozenset({"corrupt", "unsupported_type"}),
    "html": frozenset({INDEXED, "empty", "unsupported_type"}),
}


def behind_magic(kind: str, noise: bytes) -> bytes:
    return MAGIC[kind][0] + noise


def seeded_noise(seed: int, size: int = 4096) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not secrets


def random_cases() -> list[Case]:
    """One random-bytes file per magic number, from a fixed seed (the worker batch; the
    unit tests draw many more with hypothesis)."""
    return [Case(f"random-{kind}", f"random{suffix}",
                 lambda kind=kind: behind_magic(kind, seeded_noise(len(kind))),
                 RANDOM_CODES[kind]) for kind, (_, suffix) in MAGIC.items()]


def named_cases(secret_path: str) -> list[Case]:
    """The explicit hostile files; `secret_path`: a file whose text (SECRET) the
    external-entity cases point at."""
    corrupt_or_bomb = frozenset({"corrupt", "archive_bomb"})
    return [
        Case("zip-bomb-docx", "bomb.docx", zip_bomb_docx, frozenset({"archive_bomb"})),
        Case("lying-zip-bomb-docx", "liar.docx", lying_zip_bomb_docx, corrupt_or_bomb),
        Case("nested-zip-as-docx", "nested.docx", nested_zip, frozenset({"unsupported_type"})),
        Case("billion-laughs-docx", "laughs.docx", billion_laughs, frozenset({"corrupt"})),
        Case("xxe-docx", "xxe.docx", lambda: xxe_docx(secret_path), frozenset({"corrupt"})),
        Case("xxe-parameter-docx", "xxe-param.docx",
             lambda: xxe_parameter_entity(secret_path), frozenset({"corrupt"})),
        Case("xxe-odd-part-name-docx", "xxe-odd.docx",
             lambda: xxe_docx(secret_path, part="word/document.bin"),
             frozenset({"corrupt", "unsupported_type"})),
        Case("xxe-xlsx", "xxe.xlsx", lambda: xxe_xlsx(secret_path), frozenset({"corrupt"})),
        Case("xxe-pptx", "xxe.pptx", lambda: xxe_pptx(secret_path), frozenset({"corrupt"})),
        Case("nested-html", "deep.html", nested_html, frozenset({"too_large"})),
        Case("unclosed-html", "unclosed.html", unclosed_html,
             frozenset({INDEXED, "too_large"}), needle="end"),
        Case("single-line-50mb", "line.txt", single_line, frozenset({INDEXED}),
             needle="signed contract for seven years"),
        Case("nul-text", "nul.txt", nul_text, frozenset({INDEXED}),
             needle="visitor badge policy"),
        Case("nul-csv", "nul.csv", nul_csv, frozenset({INDEXED}), needle="Tower 7"),
        Case("pdf-10000-pages", "ledger.pdf", many_page_pdf, frozenset({INDEXED}),
             needle="Entry 9999 ships nine nine nine nine crates"),
    ]
