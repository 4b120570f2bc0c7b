"""Hostile files (tests/hostile_files.py) read in this process: each ends as a document
with text or as an IngestionError with a code and a reason, never as another exception;
no external entity reads a local file; stored names cannot leave their folder or hide
their extension. The same files go through a real worker in
tests/integration/test_hostile_uploads.py."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.errors import IngestionError
from ingestion.parse import parse_document
from ingestion.safety import MAX_FILENAME_BYTES, sanitize_filename
from tests import hostile_files as hostile

# Codes that blame Citewise, not the file: random input must never produce them.
OUR_FAULT = {"reader_fault", "ingestion_failed", "parser_crashed"}


def outcome(path: Path, name: str) -> tuple[str, str]:
    """("indexed", the text) or (the failure code, the reason)."""
    try:
        document = parse_document(path, name)
    except IngestionError as error:
        assert error.message.strip(), f"{error.code} without a reason"
        return error.code, error.message
    return hostile.INDEXED, "\n".join(block.text for block in document.blocks)


noise = st.one_of(st.binary(max_size=4096),
                  st.text(max_size=2000).map(lambda text: text.encode("utf-8")))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(hostile.MAGIC)), tail=noise)
def test_random_bytes_behind_a_magic_number_fail_with_the_files_reason(tmp_path, kind, tail):
    suffix = hostile.MAGIC[kind][1]
    path = tmp_path / f"random{suffix}"
    path.write_bytes(hostile.behind_magic(kind, tail))
    code, reason = outcome(path, path.name)
    assert code in hostile.RANDOM_CODES[kind], (code, reason)
    assert code not in OUR_FAULT


@pytest.fixture
def secret_file(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(hostile.SECRET)
    return path


@pytest.mark.parametrize("label", ["billion-laughs-docx", "xxe-docx", "xxe-parameter-docx",
                                   "xxe-odd-part-name-docx", "xxe-xlsx", "xxe-pptx"])
def test_entity_declarations_in_office_parts_are_refused_unread(tmp_path, secret_file, label):
    """Whatever part holds it (named .xml or not), a DTD fails the file as damaged
    before any XML parser runs: the secret the entity points at is read by nobody."""
    case = next(c for c in hostile.named_cases(str(secret_file)) if c.label == label)
    path = tmp_path / case.name
    path.write_bytes(case.make())
    code, reason = outcome(path, case.name)
    assert code == "corrupt"
    assert "document type declaration" in reason
    assert hostile.SECRET not in reason


def test_a_zip_bomb_whose_directory_lies_about_its_size_fails_as_damaged(tmp_path):
    """The directory says 2 KB; the data inflates to 200 MB. zipfile stops at the
    declared size and the checksum fails: the file is damaged, not read."""
    path = tmp_path / "liar.docx"
    path.write_bytes(hostile.lying_zip_bomb_docx())
    assert outcome(path, path.name)[0] == "corrupt"


def test_a_zip_nested_forty_deep_and_named_docx_is_an_archive_not_a_document(tmp_path):
    path = tmp_path / "nested.docx"
    path.write_bytes(hostile.nested_zip())
    code, reason = outcome(path, path.name)
    assert code == "unsupported_type" and "ZIP archive" in reason


@pytest.mark.parametrize("make", [hostile.nested_html, hostile.unclosed_html])
def test_html_nested_past_the_parsers_depth_fails_fast_as_too_large(tmp_path, make):
    path = tmp_path / "deep.html"
    path.write_bytes(make())
    code, reason = outcome(path, path.name)
    assert code == "too_large" and "256 levels" in reason


@pytest.mark.parametrize(("name", "make", "needle"), [
    ("nul.txt", hostile.nul_text, "Line 39: the visitor badge policy applies to guests."),
    ("nul.csv", hostile.nul_csv, "Tower 7"),
])
def test_nul_bytes_in_text_and_csv_are_dropped_and_the_rest_read(tmp_path, name, make, needle):
    """PostgreSQL refuses NUL in text: a stray one must not fail the document later."""
    path = tmp_path / name
    path.write_bytes(make())
    code, text = outcome(path, name)
    assert code == hostile.INDEXED
    assert needle in text and "\x00" not in text


@pytest.mark.parametrize("raw", hostile.HOSTILE_NAMES)
def test_a_hostile_file_name_is_stored_as_one_plain_name(raw):
    name = sanitize_filename(raw)
    assert "/" not in name and "\\" not in name and name not in {".", ".."}
    assert not any(unicodedata.category(c) in {"Cc", "Cf"} for c in name)  # no RTL, ZWSP
    assert name == unicodedata.normalize("NFC", name)
    assert 0 < len(name.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert name.endswith(".txt")


def test_names_are_read_as_people_typed_them():
    assert sanitize_filename("../../etc/passwd.txt") == "passwd.txt"
    assert sanitize_filename("invoice\u202etxt.exe.txt") == "invoicetxt.exe.txt"
    assert sanitize_filename(unicodedata.normalize("NFD", "보고서 초안.txt")) == "보고서 초안.txt"
    assert sanitize_filename("pass\u200bword\ufeff\u200d.txt") == "password.txt"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_name_becomes_one_plain_bounded_name(raw):
    name = sanitize_filename(raw)
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in {".", ".."} and len(name.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert sanitize_filename(name) == name  # stable: a stored name is already clean
