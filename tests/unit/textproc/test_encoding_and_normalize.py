from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textproc import normalize
from textproc.encoding import decode_bytes
from textproc.normalize import (
    clean_inline,
    collapse_whitespace,
    fold,
    normalize_text,
    without_section_number,
)

KOREAN = "한국어 문서입니다. 검색이 잘 되어야 합니다."


def test_decodes_utf8_with_and_without_bom():
    assert decode_bytes(KOREAN.encode("utf-8")) == KOREAN
    assert decode_bytes(KOREAN.encode("utf-8-sig")) == KOREAN


def test_decodes_utf16_with_bom_both_byte_orders():
    assert decode_bytes(KOREAN.encode("utf-16")) == KOREAN
    assert decode_bytes("\ufeff".encode("utf-16-be") + KOREAN.encode("utf-16-be")) == KOREAN


def test_decodes_utf16_without_bom():
    assert decode_bytes("Install notes, version two".encode("utf-16-le")) == \
        "Install notes, version two"


def test_decodes_cp949_and_euc_kr():
    assert decode_bytes(KOREAN.encode("euc-kr")) == KOREAN
    # "똠" exists only in CP949, Microsoft's extension of EUC-KR.
    assert decode_bytes("똠방각하 보고서입니다.".encode("cp949")) == "똠방각하 보고서입니다."


def test_latin1_is_not_mistaken_for_korean():
    assert decode_bytes("Café crème, déjà vu.".encode("cp1252")) == "Café crème, déjà vu."


def test_normalize_is_nfc_so_hangul_survives():
    decomposed = unicodedata.normalize("NFD", "한글")
    assert len(decomposed) > 2
    assert normalize_text(decomposed) == "한글"
    assert normalize_text("a\u00a0b\u200b c\r\n\r\n\r\n\r\nd\x07") == "a b c\n\nd"


def test_inline_text_is_one_line():
    assert clean_inline("  Chapter\n 10.\u3000설치 ") == "Chapter 10. 설치"


def test_folded_form_matches_width_and_case_variants():
    # Full-width letters come from CJK input methods; the stored form keeps them.
    assert fold("ＰＹＴＨＯＮ  3.12\n설치") == fold("python 3.12 설치") == "python 3.12 설치"
    assert normalize_text("ＰＹＴＨＯＮ") == "ＰＹＴＨＯＮ"


_SPACE_CHARS = " \t\u00a0\u1680\u2000\u2005\u200a\u202f\u205f\u3000"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab가\n\r\x0b\x0c" + _SPACE_CHARS)), max_size=80))
def test_runs_of_space_become_one_plain_space_and_a_lone_space_stays(text):
    """The patterns skip lone plain spaces (for memory); the result is what replacing
    every run would give."""
    assert normalize._SPACES.sub(" ", text) == re.sub(f"[{_SPACE_CHARS}\u2000-\u200a]+", " ",
                                                       text)
    assert collapse_whitespace(text) == re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize(("heading", "bare"), [
    ("8.1.4. Localized messages and translated documentation",
     "Localized messages and translated documentation"),
    ("A.4. Building a shared library package", "Building a shared library package"),
    ("7.8.2 X server remote connection", "X server remote connection"),
    ("Chapter 8. I18N and L10N", "I18N and L10N"),
    ("1. 개요", "개요"),
    ("A remote desktop", "A remote desktop"),  # an article, not a section letter
    ("I18N", "I18N"),
])
def test_a_heading_loses_only_its_section_number(heading, bare):
    assert without_section_number(heading) == bare
