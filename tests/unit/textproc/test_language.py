"""Language identification on short and mixed text, and a document set's language."""

from __future__ import annotations

import time

import pytest

from textproc import language
from textproc.language import (
    SAMPLE_LETTERS,
    LanguageProfile,
    decide,
    identify,
    profile_of,
)

KOREAN = ("직원은 입사 1년 후 15일의 연차 휴가를 받는다. 휴가 신청은 최소 3일 전에 팀장에게 "
          "제출해야 한다. 사용하지 않은 연차는 다음 해 3월까지 이월할 수 있다.")
KOREAN_WITH_TERMS = ("데비안 Debian GNU/Linux 시스템에서 apt-get install 명령으로 패키지를 "
                     "설치하기 전에 /etc/apt/sources.list 파일의 저장소 주소를 확인하세요.")
ENGLISH = ("Passwords expire every 90 days. Use the self-service portal to reset yours, "
           "and connect the VPN before you open the finance share.")
GERMAN = ("Urlaubsanträge müssen mindestens drei Tage vorher beim Teamleiter eingereicht "
          "werden. Nicht genommener Urlaub verfällt am Ende des Jahres.")


@pytest.mark.parametrize(("text", "language"), [
    ("연차 이월", "ko"),
    ("VPN 비밀번호 재설정", "ko"),
    ("휴가는 언제 신청하나요?", "ko"),
    ("How do I reset my VPN password?", "en"),
    ("What file types can I upload?", "en"),
    ("Rebuilding indexes", "en"),
    ("Wie beantrage ich Urlaub?", "de"),
    ("パスワードを忘れました", "ja"),
])
def test_short_questions_and_headings_are_identified(text, language):
    assert identify(text)[0] == language


@pytest.mark.parametrize("text", ["OK", "12345", "--- | ---", ""])
def test_text_that_says_nothing_is_left_undetermined(text):
    assert identify(text) == ("und", 0.0)


def test_korean_prose_full_of_english_terms_is_korean():
    decision = decide(profile_of([KOREAN_WITH_TERMS, KOREAN]))
    assert decision.language == "ko"
    assert decision.describe().startswith("Korean (100% of ")


def test_korean_and_english_blocks_in_one_document_make_it_mixed():
    profile = profile_of(["연차 휴가 규정", KOREAN, "Remote access", ENGLISH])
    assert set(profile.ranked()) == {"ko", "en"}
    decision = decide(profile)
    assert decision.language == "mixed"
    assert "English" in decision.describe() and "Korean" in decision.describe()


def test_profiles_add_up_over_documents():
    english, korean = profile_of([ENGLISH] * 10), profile_of([KOREAN])
    assert decide(english).language == "en"
    total = english + korean + korean
    assert total.documents == 3
    assert decide(total).describe().endswith("in 3 documents)")
    # A tenth of the letters in Korean is enough to need the multilingual model.
    assert decide(total).language == "mixed"


def test_another_language_is_named():
    assert decide(profile_of([GERMAN] * 3)).language == "de"


def test_nothing_identified_decides_nothing():
    assert decide(profile_of(["12 | 34 | 56", "---"])) is None
    assert decide(LanguageProfile()) is None


def test_profiles_survive_a_json_round_trip():
    profile = profile_of([KOREAN, ENGLISH])
    assert LanguageProfile.from_json(profile.to_json()) == profile
    assert LanguageProfile.from_json(None) == LanguageProfile()


def test_a_long_document_is_sampled_from_start_to_end_in_bounded_time():
    # An English navigation/licence head must not speak for a Korean body.
    blocks = [ENGLISH] * 300 + [KOREAN] * 3000
    began = time.perf_counter()
    profile = profile_of(blocks)
    assert time.perf_counter() - began < 5
    assert profile.identified <= SAMPLE_LETTERS * 1.1
    assert decide(profile).language == "ko"


def test_short_english_headings_do_not_make_a_short_handbook_mixed():
    """Read alone, "Pension plan" is French and "Canteen" Dutch to the identifier; a
    heading joins the block it introduces instead."""
    blocks = ["Pension plan", "The company pays five percent.", "Canteen", "Lunch is free.",
              "Versions", "See the list."]
    assert decide(profile_of(blocks)).language == "en"


def test_the_model_loads_once_when_ingestion_starts_it_and_a_text_needs_it_meanwhile():
    """ingest_many loads the identifier in a thread while its first document is parsed;
    the first document identified before that load ends waits for it, not loads again."""
    language._load_identifier.cache_clear()
    language.load_in_background()
    assert identify(ENGLISH)[0] == "en"
    assert language._load_identifier.cache_info().misses == 1
