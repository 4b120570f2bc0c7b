from __future__ import annotations

import pytest

from textproc.tokens import TokenizerConfig, approx_tokens, light_stem, match_tokens, tokenize


def test_english_is_case_folded_normalised_and_loses_stop_words():
    # Full-width letters (common in CJK input methods) fold to ASCII under NFKC.
    assert tokenize("The ＰＹＴＨＯＮ Interpreter is FAST") == ["python", "interpreter", "fast"]


def test_stemming_is_optional_and_merges_plural_and_verb_forms():
    assert tokenize("running dogs", TokenizerConfig(stem=False)) == ["running", "dogs"]
    assert light_stem("running") == light_stem("runs") == "run"
    assert light_stem("libraries") == "library"
    assert light_stem("class") == "class"


def test_korean_bigrams_let_a_bare_noun_match_its_inflected_form():
    # 서울이고 ("is Seoul and") must match a query for 서울 (Seoul).
    tokens = tokenize("대한민국의 수도는 서울이고", TokenizerConfig(korean="bigram"))
    assert "서울" in tokens and "수도" in tokens and "대한" in tokens


def test_the_default_korean_tokenizer_is_kiwi():
    # Chosen by measurement on KorQuAD (benchmarks/RESULTS.md): particles and endings are
    # cut off, so 서울이고 and 서울에서 both index the noun 서울.
    assert TokenizerConfig().korean == "kiwi"
    assert tokenize("서울에서 만나요")[0] == "서울"
    assert tokenize("대한민국의 수도는 서울이고") == tokenize("대한민국의 수도는 서울이고",
                                                         TokenizerConfig(korean="kiwi"))


def test_kiwi_keeps_content_morphemes_and_drops_particles():
    tokens = tokenize("대한민국의 수도는 서울이고", TokenizerConfig(korean="kiwi"))
    assert tokens[:3] == ["대한민국", "수도", "서울"]
    assert "의" not in tokens and "는" not in tokens


@pytest.mark.parametrize("mode", ["bigram", "kiwi", "kiwi+bigram"])
def test_mixed_korean_and_english_keeps_both(mode):
    tokens = tokenize("Django 설정에서 DEBUG를 끄세요", TokenizerConfig(korean=mode))
    assert "django" in tokens and "debug" in tokens
    assert "설정" in tokens


def test_compatibility_jamo_and_width_variants_are_normalised():
    assert tokenize("ＡＢＣ") == tokenize("abc")


def test_unknown_korean_mode_is_rejected():
    with pytest.raises(ValueError, match="korean"):
        TokenizerConfig(korean="spaces")


def test_match_tokens_are_words_and_hangul_bigrams_without_a_model():
    assert match_tokens("How do I install Python?") == ["install", "python"]
    assert match_tokens("서울에서 만나요") == ["서울에서", "서울", "울에", "에서",
                                             "만나요", "만나", "나요"]
    assert match_tokens("ＰＹＴＨＯＮ３") == ["python3"]  # NFKC + casefold


def test_one_stop_word_list_for_the_index_and_the_answer_step():
    # "How do I" and "the" carry no topic for BM25 nor for the verifier's overlap.
    question = "How do I rebuild the indexes?"
    unstemmed = TokenizerConfig(stem=False)
    assert tokenize(question, unstemmed) == match_tokens(question) == ["rebuild", "indexes"]


def test_the_index_merges_singular_and_plural():
    """"What is the minimum password length?" found no lexical match in a handbook that
    says "Passwords must be ..." and was refused."""
    assert tokenize("password") == tokenize("passwords") == ["password"]
    assert tokenize("How do I rebuild the indexes?") == ["rebuild", "index"]


def test_approx_tokens_is_conservative():
    assert approx_tokens("hello world") >= 2
    assert approx_tokens("서울에서") == 4
    assert approx_tokens("") == 0


@pytest.mark.parametrize(("question", "named"), [
    ("What does /readyz report?", [{"readyz"}]),
    ("What does CITEWISE_RECONCILE_SECONDS do?", [{"citewise_reconcile_seconds"}]),
    ("What does error E403 mean on an x86_64 server?", [{"e403"}, {"x86_64"}]),
    ("Why does ingest --sync wait?", [{"sync"}]),
    ("What is a HybridSearcher?", [{"hybridsearcher"}]),
    ("GET /api/v1/ask returns what?", [{"api", "v1", "ask"}]),
    ("Is /etc/hosts read before DNS?", [{"etc", "host"}]),  # stemmed
])
def test_names_written_as_code_are_found_whole(question, named):
    from textproc.tokens import named_identifiers

    assert named_identifiers(question) == named


@pytest.mark.parametrize("question", [
    "What is Python?", "How do I reset my e-mail password?", "2024년 3월 휴가 규정은?",
    "Is the 2024-01-01 holiday paid?", "What does the PDF say about IBM?",
])
def test_ordinary_words_dates_and_acronyms_are_not_identifiers(question):
    from textproc.tokens import named_identifiers

    assert named_identifiers(question) == []


@pytest.mark.parametrize(("sentence", "defined"), [
    ("GET /healthz: 200 while the process serves requests.", {"healthz"}),
    ("Variable: CITEWISE_RECONCILE_SECONDS; Default: 60; What it does: ...",
     {"citewise_reconcile_seconds"}),
    ("Code: llm_unreachable; What happened: Connection refused.", {"llm_unreachable"}),
    ("E403 - access denied by the proxy.", {"e403"}),
    ("Probe paths (/healthz, /readyz, /metrics) are logged at DEBUG level only.", set()),
    ("/readyz shows data_dir failing when no file can be written.", set()),
    ("The x86_64 build is faster.", set()),
])
def test_a_sentence_defines_a_name_only_when_it_opens_with_it(sentence, defined):
    from textproc.tokens import defined_identifiers

    assert defined_identifiers(sentence) == defined


@pytest.mark.parametrize(("question", "sentence", "defines"), [
    ("What does /readyz report?", "GET /readyz: 200 when Citewise can answer.", True),
    ("What does /readyz report?", "GET /healthz: 200 while the process serves.", False),
    ("What is in /etc/hosts?", "file: /etc/mailname; the mail name of the host.", False),
    ("What is VLLM_BASE_URL?", "Variable: VLLM_BASE_URL; Default: empty.", True),
    ("What is VLLM_BASE_URL?", "Check that VLLM_BASE_URL points at the server.", False),
])
def test_a_definition_counts_only_for_the_whole_name_the_question_asks(question, sentence,
                                                                        defines):
    from textproc.tokens import asked_names, defines_name

    assert defines_name(sentence, asked_names(question)) is defines
