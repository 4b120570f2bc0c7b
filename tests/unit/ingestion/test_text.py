from __future__ import annotations

import unicodedata

from ingestion.text import decode_bytes, normalize_text, sentence_spans, split_sentences

KOREAN = "한국어 문서입니다. 검색이 잘 되어야 합니다."


def test_decodes_utf8_with_and_without_bom():
    assert decode_bytes(KOREAN.encode("utf-8")) == KOREAN
    assert decode_bytes(KOREAN.encode("utf-8-sig")) == KOREAN


def test_decodes_utf16_with_bom_both_byte_orders():
    assert decode_bytes(KOREAN.encode("utf-16")) == KOREAN
    assert decode_bytes("\ufeff".encode("utf-16-be") + KOREAN.encode("utf-16-be")) == KOREAN


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


def test_english_sentences_with_abbreviations_and_quotes():
    text = 'Mr. Smith paid $3.50 in the U.S. yesterday. "Why?" she asked. It rained! Done'
    assert split_sentences(text) == [
        "Mr. Smith paid $3.50 in the U.S. yesterday.",
        '"Why?" she asked.',
        "It rained!",
        "Done",
    ]


def test_korean_and_cjk_sentences():
    text = (
        "회의는 3시에 시작합니다. 그는 \u201c좋다.\u201d 그리고 떠났다. 정말요? 네! "
        "東京は大きい。本当\uff1fはい"
    )
    assert split_sentences(text) == [
        "회의는 3시에 시작합니다.",
        "그는 \u201c좋다.\u201d",
        "그리고 떠났다.",
        "정말요?",
        "네!",
        "東京は大きい。",
        "本当\uff1f",
        "はい",
    ]


def test_korean_endings_at_line_end_without_punctuation():
    assert split_sentences("첫 번째 항목이다\n두 번째 항목입니다\n") == [
        "첫 번째 항목이다",
        "두 번째 항목입니다",
    ]


def test_sentence_spans_index_the_original_text():
    text = "  One. Two?  셋입니다. "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["One.", "Two?", "셋입니다."]
