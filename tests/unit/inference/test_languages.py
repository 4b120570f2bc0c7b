from __future__ import annotations

from inference.languages import detect_language, is_not_found, not_found_message


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
