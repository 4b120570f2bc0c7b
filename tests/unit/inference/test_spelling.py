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
