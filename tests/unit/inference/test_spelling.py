from __future__ import annotations

import pytest

from inference.spelling import correct_typos

PASSAGES = [
    "To rebuild the indexes, run python manage.py rebuild_indexes. The command rebuilds "
    "them. Rebuilding takes a minute.",
    "Employees connect to the office network with the WireGuard VPN client. Contracts are "
    "signed by the legal team.",
    "비밀번호는 90일마다 만료된다. 직원은 입사 1년 후 연간 15일의 연차 휴가를 받는다.",
]


@pytest.mark.parametrize(("question", "meant"), [
    ("How do I rebiuld the indexs?", "How do I rebuild the indexes?"),
    ("Which VPN clinet do employes use?", "Which VPN client do employees use?"),
    ("비밀번홀는 언제 만료되나요?", "비밀번호는 언제 만료되나요?"),  # one jamo off
    ("How do I rebuild an index?", "How do I rebuild an indexes?"),  # another form
    ("Which clients connect employees?", "Which client connect employees?"),
])
def test_a_mistyped_word_becomes_the_word_the_passages_use(question, meant):
    assert correct_typos(question, PASSAGES) == meant


@pytest.mark.parametrize("question", [
    "Do contractors get VPN parking at the office?",  # "contractors" is not a typo
    "연차 휴가는 며칠 받나요?",  # words the passages inflect differently stay
    "Is it 15 or 16 days?",
])
def test_real_words_the_passages_lack_stay_as_asked(question):
    assert correct_typos(question, PASSAGES) == question


def test_a_word_found_only_inside_an_identifier_takes_the_form_the_index_knows():
    """The lexical index counts "rebuild_indexes" as one word: a question's "rebuild"
    (or the typo "rebiuld") matches nothing there, so it takes the passages' whole word
    of the same stem."""
    passages = ["Run python manage.py rebuild_indexes: it rebuilds every index."]
    assert correct_typos("How do I rebuild it?", passages) == "How do I rebuilds it?"
    assert correct_typos("How do I rebiuld it?", passages) == "How do I rebuilds it?"


KOREAN_HELP = ["메뉴의 명령은 도구 모음에도 있습니다. 셀의 테두리는 서식 메뉴에서 바꿉니다. "
               "머리글을 넣으려면 삽입 메뉴를 엽니다. 원격 제어 또는 발표자 보기를 씁니다. "
               "열에 있는 값은 간에 두지 않습니다. 자동 필터 목록에서 테두리 선을 고릅니다."]


@pytest.mark.parametrize("question", [
    "서식은 어느 메뉴에 있나요?",  # particle 에, not the passages' 의
    "머리글은 어디서 넣나요?",  # 은, not 을
    "발표자 노트를 휴대폰으로 보는 앱은?",  # 보는 is a word, not a typo of 또는
    "값 안에 쉼표가 있으면?",  # 안에, not 간에
])
def test_a_korean_particle_or_a_short_word_is_not_respelled(question):
    assert correct_typos(question, KOREAN_HELP) == question


@pytest.mark.parametrize(("question", "meant"), [
    ("셀에 테투리 선을 넣으려면?", "셀에 테두리 선을 넣으려면?"),
    ("자동 필터ㄹ 켜면?", "자동 필터 켜면?"),
])
def test_a_korean_typo_inside_a_word_is_still_corrected(question, meant):
    assert correct_typos(question, KOREAN_HELP) == meant
