"""The document's failure codes and the ingestion error classes are one list: a new error
class without a code the console can translate fails here."""

from __future__ import annotations

import errno

from django.utils import translation

from citewise.knowledge.choices import FAILURE_ADVICE, FailureCode, failure_code
from ingestion import errors


def error_classes(base: type = errors.IngestionError) -> set[type]:
    found = {base}
    for subclass in base.__subclasses__():
        found |= error_classes(subclass)
    return found


def test_every_ingestion_error_has_a_failure_code_and_back():
    codes = {cls.code for cls in error_classes()}
    assert codes == set(FailureCode.values) - {
        FailureCode.INTERNAL, FailureCode.STORAGE_FULL, FailureCode.STORAGE_UNAVAILABLE}


def test_an_error_that_is_not_an_ingestion_error_is_internal():
    assert failure_code(errors.TooLarge("big")) == FailureCode.TOO_LARGE
    assert failure_code(KeyError("x")) == FailureCode.INTERNAL
    assert failure_code(OSError(errno.ENOSPC, "No space left on device")) == (
        FailureCode.STORAGE_FULL)


def test_every_failure_code_says_what_to_do_in_english_and_korean():
    assert set(FAILURE_ADVICE) == set(FailureCode)
    for code, advice in FAILURE_ADVICE.items():
        with translation.override("ko"):
            korean = str(advice)
        with translation.override("en"):
            english = str(advice)
        assert korean != english, f"{code}: no Korean"
        assert any("\uac00" <= c <= "\ud7a3" for c in korean), code
