from __future__ import annotations

from inference.languages import detect_language, is_not_found, not_found_message
from inference.text import approx_tokens, split_sentences, tokenize


def test_tokenize_words_and_hangul_bigrams():
    assert tokenize("How do I install Python?") == ["install", "python"]
    assert tokenize("서울에서 만나요") == ["서울에서", "서울", "울에", "에서",
                                           "만나요", "만나", "나요"]
    assert tokenize("ＰＹＴＨＯＮ３") == ["python3"]  # NFKC + casefold


def test_split_sentences_english_korean_cjk():
    text = "Python is great, e.g. for scripts. It runs on Windows! Does it?\nNew line here"
    assert [s.text for s in split_sentences(text)] == [
        "Python is great, e.g. for scripts.", "It runs on Windows!", "Does it?",
        "New line here"]
    ko = "서울은 수도이다. 부산은 항구이다。東京は首都です。"
    assert [s.text for s in split_sentences(ko)] == ["서울은 수도이다.", "부산은 항구이다。",
                                                      "東京は首都です。"]


def test_split_sentences_keeps_markers_and_offsets():
    text = "Paris is the capital. [1] It is old [2]. Version 3.11 is out."
    spans = split_sentences(text)
    assert [s.text for s in spans] == ["Paris is the capital. [1]", "It is old [2].",
                                       "Version 3.11 is out."]
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_language_detection_and_messages():
    assert detect_language("How do I install it?") == "en"
    assert detect_language("파이썬은 어떻게 설치하나요?") == "ko"
    assert detect_language("Python 3.12는 언제 나왔나요?") == "ko"
    assert detect_language("12345") == "en"
    assert "HR Policies" in not_found_message("en", "HR Policies")
    assert not_found_message("ko", "인사 규정").startswith("인사 규정에서")
    assert not_found_message("fr") == not_found_message("en")
    assert is_not_found(not_found_message("ko"))
    assert is_not_found(not_found_message("en", "X"))
    assert not is_not_found("Paris is the capital of France.")


def test_approx_tokens_is_conservative():
    assert approx_tokens("hello world") >= 2
    assert approx_tokens("서울에서") == 4
    assert approx_tokens("") == 0
