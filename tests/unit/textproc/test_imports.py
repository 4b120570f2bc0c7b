"""textproc is imported by the web process (through inference and retrieval): importing
it must load no model, no framework and none of Citewise's packages."""

from __future__ import annotations

from tests.helpers import modules_loaded_by

EVERY_MODULE = ("import textproc, textproc.encoding, textproc.language, textproc.normalize,"
                " textproc.scripts, textproc.sentences, textproc.tokens")


def test_importing_every_textproc_module_loads_nothing_heavy():
    names = ("kiwipiepy", "py3langid", "charset_normalizer", "numpy", "django", "citewise",
             "ingestion", "retrieval", "inference")
    assert modules_loaded_by(EVERY_MODULE, names) == []


def test_the_probe_sees_a_lazily_loaded_library():
    """Guards the test above against passing vacuously: Korean text loads kiwi."""
    code = f"{EVERY_MODULE}\ntextproc.tokens.tokenize('서울에서 만나요')"
    assert modules_loaded_by(code, ("kiwipiepy",)) == ["kiwipiepy"]
