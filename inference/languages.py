"""The question's language (English or Korean) and the "not found" message in it."""

from __future__ import annotations

from textproc.normalize import fold
from textproc.scripts import hangul_share

SUPPORTED = ("en", "ko")
KOREAN_SHARE = 0.3  # share of letters that are Hangul from which a text counts as Korean

_NOT_FOUND = {
    "en": "I couldn't find the answer to that in {kb}.",
    "ko": "{kb}에서 해당 질문에 대한 답을 찾을 수 없습니다.",
}
_ASK_IN = {
    ("en", "ko"): "Its documents are written in Korean: asking in Korean may find the answer.",
    ("ko", "en"): "이 문서들은 영어로 작성되어 있어 영어로 질문하면 답을 찾을 수도 있습니다.",
}
_THE_DOCUMENTS = {"en": "the documents", "ko": "문서"}
_CLOSEST = {"en": "The closest documents are:", "ko": "가장 가까운 문서:"}
_UNAVAILABLE_NOTICE = {
    "en": "The answer service is unavailable; showing quoted passages instead.",
    "ko": "답변 서비스를 사용할 수 없어 문서의 관련 문장을 인용합니다.",
}


def detect_language(text: str, *, default: str = "en") -> str:
    """"ko" when at least 30% of the letters are Hangul, else "en" (or `default` when the
    text has no letters at all)."""
    if not any(c.isalpha() for c in text):
        return default
    return "ko" if hangul_share(text) >= KOREAN_SHARE else "en"


def _lang(language: str) -> str:
    return language if language in SUPPORTED else "en"


def not_found_message(language: str, knowledge_base: str | None = None) -> str:
    lang = _lang(language)
    kb = knowledge_base or _THE_DOCUMENTS[lang]
    return _NOT_FOUND[lang].format(kb=kb)


def other_language_hint(question_language: str, documents_language: str) -> str:
    """A sentence for a "not found" reply when the question and the documents are in
    different languages (answers are matched on the documents' words, so a Korean question
    rarely finds an English passage); "" when they agree or either is not en/ko."""
    return _ASK_IN.get((question_language, documents_language), "")


def closest_documents_heading(language: str) -> str:
    return _CLOSEST[_lang(language)]


def fallback_notice(language: str) -> str:
    return _UNAVAILABLE_NOTICE[_lang(language)]


def is_not_found(text: str) -> bool:
    """True when `text` is (or starts with) a "not found" answer in any language, also the
    phrasings the prompt asks an LLM to use."""
    norm = fold(text)
    probes = ("i couldn't find the answer", "i could not find the answer",
              "the sources do not contain", "찾을 수 없습니다")
    return any(p in norm for p in probes)
