from __future__ import annotations

import random
import re
from dataclasses import replace

import numpy as np
import pytest

from inference.backends.base import AnswerRequest, Delta, Done, Turn, collect
from inference.backends.extractive import ExtractiveBackend, ExtractiveConfig, carry_key_terms
from inference.citations import parse_citations
from inference.verify import Verifier
from textproc.normalize import collapse_whitespace
from textproc.sentences import list_sentences, sentence_spans, whole_sentences

from .helpers import embed_passages, embed_query, source

FAQ = [
    source(1, "Python is a programming language. It was created by Guido van Rossum.\n"
              "Python is free to use and distribute, even for commercial use."),
    source(2, "To install Python on Windows, download the installer from python.org. "
              "Run the installer and tick 'Add Python to PATH'. The weather is nice."),
    source(3, "Bananas are yellow. Apples can be red or green."),
]


def backends():
    return [ExtractiveBackend(),
            ExtractiveBackend(embed_query=embed_query, embed_passages=embed_passages)]


@pytest.mark.parametrize("backend", backends())
def test_quotes_the_best_sentences_with_citations(backend):
    result = collect(backend.stream(AnswerRequest("How do I install Python on Windows?", FAQ)))
    assert "download the installer from python.org. [2]" in result.text
    assert "Bananas" not in result.text
    assert result.finish_reason == "stop"


def test_quotes_come_from_the_passage_holding_the_best_sentence():
    sources = [source(1, "Passwords expire every 90 days. Reset your password in the portal."),
               source(2, "Board passwords expire every 7 days for security reasons.")]
    chosen = ExtractiveBackend().select("How often do passwords expire?", sources)
    assert {s.n for s in chosen} == {1}
    everywhere = ExtractiveBackend(config=ExtractiveConfig(single_source=False))
    assert {s.n for s in everywhere.select("How often do passwords expire?", sources)} == {1, 2}


def test_reading_order_is_source_then_position():
    backend = ExtractiveBackend(config=ExtractiveConfig(relative_cutoff=0.0, max_sentences=4,
                                                        single_source=False))
    chosen = backend.select("Python installer free", FAQ)
    assert [(s.n, s.index) for s in chosen] == sorted((s.n, s.index) for s in chosen)


def test_korean_question_quotes_korean_sentences():
    sources = [source(1, "서울은 대한민국의 수도이다. 인구는 약 천만 명이다."),
               source(2, "부산은 항구 도시이다. 해운대가 유명하다.")]
    result = collect(ExtractiveBackend().stream(
        AnswerRequest("대한민국의 수도는 어디인가요?", sources, language="ko")))
    assert result.text.startswith("서울은 대한민국의 수도이다. [1]")


def test_not_found_when_nothing_matches():
    result = collect(ExtractiveBackend().stream(
        AnswerRequest("What is the VPN password policy?", [FAQ[2]], knowledge_base="HR")))
    assert result.finish_reason == "not_found"
    assert result.text == "I couldn't find the answer to that in HR."
    korean = collect(ExtractiveBackend().stream(AnswerRequest("비밀번호 정책은?", [],
                                                              language="ko")))
    assert "찾을 수 없습니다" in korean.text


def test_usage_is_counted_with_the_given_counter():
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text.split())

    events = list(ExtractiveBackend(count_tokens=count).stream(
        AnswerRequest("install Python Windows", FAQ)))
    done = events[-1]
    assert isinstance(done, Done)
    answer = "".join(e.text for e in events if isinstance(e, Delta))
    assert done.usage.completion_tokens == len(answer.split())
    assert done.usage.prompt_tokens == 3 + sum(len(s.text.split()) for s in FAQ)


WORDS_TEXT = ("python install windows path error memory thread lock file read write list dict "
              "서울 부산 수도 항구 인구 도시 대한민국 설치 방법 오류")
WORDS = WORDS_TEXT.split()


def _random_text(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(1, 6)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 12))]
        sentences.append(" ".join(words) + rng.choice([".", "!", "?", "。", "", ";", ":"]))
    return rng.choice([" ", "\n", "  \n "]).join(sentences)


@pytest.mark.parametrize("seed", range(40))
def test_never_writes_a_sentence_that_is_not_in_its_cited_source(seed):
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    sources = [source(n, _random_text(rng), score=rng.random()) for n in range(1, 5)]
    question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
    backend = ExtractiveBackend(
        embed_query=embed_query, embed_passages=embed_passages,
        config=ExtractiveConfig(max_sentences=rng.randint(1, 5),
                                relative_cutoff=rng.random()))
    answer = collect(backend.stream(AnswerRequest(question, sources))).text
    text, citations, invalid = parse_citations(answer, sources)
    assert invalid == 0
    if not citations:
        assert "couldn't find" in answer
        return
    by_n = {s.n: collapse_whitespace(s.text) for s in sources}
    previous = 0
    for citation in citations:
        quoted = text[previous:citation.start].strip()
        previous = citation.end
        assert len(citation.numbers) == 1
        assert quoted, answer
        assert collapse_whitespace(quoted) in by_n[citation.numbers[0]], (quoted, by_n)
        # a whole sentence of the source, or a whole list that is one, not a fragment
        assert collapse_whitespace(quoted) in _whole_units(sources[citation.numbers[0] - 1].text)
    assert text[previous:].strip() == ""


def _whole_units(text: str) -> list[str]:
    spans = sentence_spans(text)
    sentences = [span.text for span, whole in zip(spans, whole_sentences(spans), strict=True)
                 if whole]
    lists = [text[spans[run.start].start:spans[run.stop - 1].end]
             for run in list_sentences(text, spans)]
    return [collapse_whitespace(unit) for unit in sentences + lists]


def test_scores_are_cached_and_expose_parts():
    backend = ExtractiveBackend(embed_query=embed_query, embed_passages=embed_passages)
    first = backend.score_sentences("install Python", FAQ)
    assert backend.score_sentences("install Python", FAQ) is first
    assert all(s.semantic is not None and 0 <= s.lexical <= 1 for s in first)
    assert backend.best_score("install Python", FAQ) == first[0].score


def test_embed_functions_come_in_pairs():
    with pytest.raises(ValueError, match="both"):
        ExtractiveBackend(embed_query=embed_query)


def test_follow_up_carries_key_terms():
    history = [Turn("user", "How do I install Python?"), Turn("assistant", "Download it [1].")]
    assert carry_key_terms(history, "And on Windows?") == "And on Windows? (install Python)"
    standalone = "What is the difference between a list and a tuple in Python programs?"
    assert carry_key_terms(history, standalone) == standalone
    assert carry_key_terms([], "And on Windows?") == "And on Windows?"
    rewritten = ExtractiveBackend().rewrite_question([Turn("user", "파이썬 설치 방법")],
                                                     "그럼 윈도우에서는?")
    assert rewritten == "그럼 윈도우에서는? (파이썬 설치 방법)"


@pytest.mark.parametrize(("question", "follow_up"), [
    ("And on Windows?", True), ("What about Korean?", True), ("Is it free?", True),
    ("Windows?", True), ("그건 얼마예요?", True), ("휴가는?", True),
    # Short, but each names its own subject: answered alone, not with the last answer.
    ("What does /readyz report?", False), ("Which environment variable selects PostgreSQL?",
                                           False),
    ("What do visitors wear?", False), ("인덱스를 다시 만들려면 어떻게 하나요?", False),
])
def test_a_short_question_naming_its_own_subject_is_not_a_follow_up(question, follow_up):
    history = [Turn("user", "How do I rebuild the indexes?"), Turn("assistant", "Run it [1].")]
    assert (carry_key_terms(history, question) != question) is follow_up


def test_headings_and_questions_choose_the_passage_but_are_not_quoted():
    """An FAQ heading that matches the question marks the passage that answers it, even
    when the passage continues the section and no longer shows the heading; the answer
    quotes the passage's statements, never a question."""
    sources = [
        source(1, "How do I reset my email password? Open the mail settings and choose Reset.",
               heading=("Accounts", "Email")),
        source(2, "Open the self-service page and press Renew token. It takes a minute.",
               heading=("Accounts", "How do I reset my VPN token")),
    ]
    backend = ExtractiveBackend(config=ExtractiveConfig(source_tolerance=1.0))
    chosen = backend.select("How do I reset my VPN token", sources)
    assert chosen and all(s.n == 2 for s in chosen)
    assert all(not s.text.endswith("?") for s in chosen)
    quoted_question = ExtractiveBackend().select(
        "How do I reset my VPN token?",
        [source(1, "“How do I reset my VPN token?” Use the portal's Reset token page.")])
    assert [s.text for s in quoted_question] == ["Use the portal's Reset token page."]


def test_a_model_that_cannot_tell_sentences_apart_gets_no_say():
    """An English-only model given Korean returns about the same similarity for every
    sentence; that noise must not outvote the words the question and a sentence share."""
    sources = [source(1, "부산은 항구 도시이다. 해운대 해수욕장이 유명하다. 자갈치 시장이 있다."),
               source(2, "서울은 대한민국의 수도이다. 인구는 약 천만 명이다. 한강이 흐른다.")]

    def flat_query(text: str):
        return np.array([1.0, 0.0], dtype=np.float32)

    def flat_passages(texts: list[str]):
        # Every sentence about equally similar (cosine 0.85-0.90), the distractors ahead.
        cosines = [0.9 if any(w in t for w in ("부산", "해운대", "자갈치")) else 0.85
                   for t in texts]
        return np.array([[c, (1 - c * c) ** 0.5] for c in cosines], dtype=np.float32)

    backend = ExtractiveBackend(embed_query=flat_query, embed_passages=flat_passages)
    chosen = backend.select("대한민국의 수도는 어디인가?", sources)
    assert chosen[0].text == "서울은 대한민국의 수도이다."
    scored = backend.score_sentences("대한민국의 수도는 어디인가?", sources)
    assert all(s.score == s.lexical for s in scored)  # semantic weight scaled to 0
    trusted = ExtractiveBackend(embed_query=embed_query, embed_passages=embed_passages)
    assert any(s.score != s.lexical for s in trusted.score_sentences(
        "How do I install Python on Windows?", FAQ))


def test_a_passage_chosen_for_its_rank_is_quoted_even_below_the_cutoff():
    """With a source tolerance below the relative cutoff, the chosen passage's own best
    sentence may score under the cutoff of the best sentence overall; it is still quoted
    (measured against the chosen passage), not an empty answer."""
    config = ExtractiveConfig(source_tolerance=0.3, relative_cutoff=0.9,
                              abstain_on_disagreement=False)
    sources = [source(1, "The travel policy covers train tickets and hotels."),
               source(2, "Travel policy: hotels, train tickets, meals and taxis are covered.")]
    chosen = ExtractiveBackend(config=config).select(
        "Which travel costs does the policy cover: hotels, meals, taxis?", sources)
    assert [s.n for s in chosen] == [1]


def test_when_retrieval_and_the_best_sentence_disagree_it_does_not_guess():
    """Retrieval ranks passage 1 first and its sentence comes close (within the source
    tolerance), but passage 2 holds the sentence that answers best: one quote would be a
    guess between them, so the answer is "not found". Where they agree, or a repeated
    sentence (chunk overlap) sits in both, it answers."""
    near = "The travel policy covers hotels, train tickets and meals."  # 0.74 of the best
    best = "Travel policy: hotels, train tickets, meals and taxis are covered."
    question = "Which travel costs does the policy cover: hotels, meals, taxis?"
    backend = ExtractiveBackend(config=ExtractiveConfig(source_tolerance=0.7))
    disagreeing = [source(1, near), source(2, best)]
    assert backend.select(question, disagreeing) == []
    result = collect(backend.stream(AnswerRequest(question, disagreeing)))
    assert result.finish_reason == "not_found" and "couldn't find" in result.text
    agreeing = [source(1, best), source(2, near)]
    assert [s.text for s in backend.select(question, agreeing)] == [best]
    overlapping = [source(1, f"{near} {best}"), source(2, f"{best} Receipts are needed.")]
    assert {s.n for s in backend.select(question, overlapping)} == {1}
    guessing = ExtractiveBackend(config=ExtractiveConfig(source_tolerance=0.7,
                                                         abstain_on_disagreement=False))
    assert [s.n for s in guessing.select(question, disagreeing)] == [1]
    # Further behind than the tolerance, passage 1 is no rival: passage 2 answers.
    strict = ExtractiveBackend(config=ExtractiveConfig(source_tolerance=0.8))
    assert [s.n for s in strict.select(question, disagreeing)] == [2]


def test_a_short_heading_and_other_word_forms_find_the_section():
    """Search ranked "Rebuilding indexes" first for "How do I rebuild the indexes?", yet
    the answer said "not found": the two-word heading was too short to count and
    "rebuild" did not meet "rebuilds" or "rebuild_indexes". Now the section answers, and
    its heading is not quoted."""
    sources = [
        source(1, "Rebuilding indexes\n\npython manage.py rebuild_indexes [--kb SLUG ...]\n\n"
                  "The command rebuilds them without re-embedding.",
               heading=("Administering knowledge bases", "Rebuilding indexes")),
        source(2, "data dir: originals, FAISS + BM25 indexes", heading=("Architecture",)),
    ]
    for question in ("How do I rebuild the indexes?", "How can I rebuild an index?"):
        chosen = ExtractiveBackend().select(question, sources)
        assert chosen and {s.n for s in chosen} == {1}, question
        assert "Rebuilding indexes" not in {s.text for s in chosen}


@pytest.mark.parametrize(("question", "text", "heading", "quoted"), [
    ("연차 휴가는 며칠 받나요?", "휴가 규정 직원은 입사 1년 후 연간 15일의 연차 휴가를 받는다.",
     ("휴가 규정",), "직원은 입사 1년 후 연간 15일의 연차 휴가를 받는다."),
    ("How often do passwords expire?", "Passwords: Passwords expire every 90 days.",
     ("IT", "Passwords"), "Passwords expire every 90 days."),
    ("Is Python free for commercial use?",
     "Python is free to use and distribute, even for commercial use.", ("Python",),
     "Python is free to use and distribute, even for commercial use."),
])
def test_a_heading_glued_to_a_sentence_is_not_quoted(question, text, heading, quoted):
    """A parser may leave a heading on the line of the first sentence; the quote starts
    after it (still verbatim). A sentence that merely begins with the heading's word
    ("Python is ...") is left whole."""
    chosen = ExtractiveBackend().select(question, [source(1, text, heading=heading)])
    assert [s.text for s in chosen] == [quoted]


def test_the_passage_retrieval_ranks_first_answers_when_it_is_about_the_question():
    """Passage 2 has one sentence naming more of the question's words; passage 1, first
    in retrieval and about the question as a whole (its term coverage), answers it. By
    sentences alone the two disagreed and the answer was "not found"; the passage's
    coverage settles it for passage 1."""
    question = "When did the Seoul Summer Olympics open?"
    sources = [
        replace(source(1, "The Seoul Summer games opened on 17 September 1988. The stadium "
                          "was open to all. Shops open late."), coverage=0.8),
        replace(source(2, "Volunteers for the Seoul Summer Olympics met in Busan. The "
                          "Olympics need volunteers."), coverage=0.45),
    ]
    chosen = ExtractiveBackend().select(question, sources)
    assert [s.text for s in chosen] == ["The Seoul Summer games opened on 17 September 1988."]
    sentences_only = ExtractiveBackend(config=ExtractiveConfig(coverage_weight=0.0))
    assert sentences_only.select(question, sources) == []


def test_context_comes_from_the_best_sentences_own_section():
    text = ("Employees receive a meal allowance of 8 euros per working day.\n\n"
            "A commuting allowance of 40 euros per month is paid to employees far away.")
    question = "How much is the commuting allowance?"
    joined = source(1, text)
    sectioned = replace(joined, section_starts=(text.index("A commuting"),))
    # No score cut-off: only the section can keep the look-alike sentence out.
    backend = ExtractiveBackend(config=ExtractiveConfig(relative_cutoff=0.0))
    assert [s.text[:6] for s in backend.select(question, [joined])] == ["Employ", "A comm"]
    assert [s.text[:6] for s in backend.select(question, [sectioned])] == ["A comm"]


def test_a_short_sentence_made_mostly_of_stop_words_is_still_an_answer():
    """"Alcohol is not reimbursed." has two content words; counted by content words it was
    too short to quote, and the answer listed what IS reimbursed instead."""
    text = ("Hotel costs are reimbursed up to 150 euros per night. Meals are reimbursed up to "
            "40 euros per day. Alcohol is not reimbursed. Taxis are reimbursed when no public "
            "transport is available.")
    answer = collect(ExtractiveBackend().stream(
        AnswerRequest(question="Is alcohol reimbursed?", sources=[source(1, text)])))
    assert "Alcohol is not reimbursed. [1]" in answer.text
def test_the_section_whose_heading_is_the_question_answers_over_a_higher_ranked_one():
    """Retrieval ranked first a section that touches the subject; the section headed with
    every word of the question is the one about it (it was refused as a disagreement)."""
    sources = [
        source(1, "A large knowledge base makes the first question after the damage slow "
                  "while it rebuilds; to rebuild ahead of time, run the command. Each index "
                  "file has a manifest. An index file may be truncated. The index of every "
                  "knowledge base is derived.", heading=("Damaged index files",)),
        source(2, "Search also rebuilds what is missing by itself. Run the rebuild command "
                  "to rebuild them all now.", heading=("Rebuilding indexes",)),
    ]
    sources = [replace(sources[0], coverage=1.0), replace(sources[1], coverage=0.6)]
    for backend in backends():
        chosen = backend.select("How can I rebuild an index?", sources)
        assert chosen and {s.n for s in chosen} == {2}, chosen


def test_the_sentence_naming_the_asked_identifier_is_quoted_not_its_namesakes():
    """Sentences that share the parts of a setting's name ("reconciler", "seconds") or the
    question's other words do not answer a question about the setting itself."""
    sources = [
        source(1, "Variable: CITEWISE_INGEST_LEASE_SECONDS; Default: 600; What it does: "
                  "seconds before the reconcile step of Citewise queues a document again."),
        source(2, "Variable: CITEWISE_RECONCILE_SECONDS; Default: 60; What it does: how "
                  "often the worker runs it."),
    ]
    # Retrieval ranked the namesake first and found the question's words in both alike.
    sources = [replace(s, coverage=0.6) for s in sources]
    for backend in backends():
        chosen = backend.select("What does CITEWISE_RECONCILE_SECONDS do?", sources)
        assert [s.n for s in chosen] == [2], chosen


def test_the_passage_defining_the_named_endpoint_answers_not_one_mentioning_it():
    """Retrieval ranked first a passage that only lists the endpoint; the one that says what
    it is comes second and is quoted."""
    sources = [
        source(1, "Logs. Probe paths (/healthz, /readyz, /metrics) are logged at DEBUG "
                  "level only, and every request writes one line."),
        source(2, "GET /healthz: 200 while the process serves requests. For liveness "
                  "probes of the orchestrator."),
    ]
    sources = [replace(s, coverage=0.85) for s in sources]
    for backend in backends():
        chosen = backend.select("What does /healthz report?", sources)
        assert [s.n for s in chosen][:1] == [2], chosen
        assert chosen[0].text.startswith("GET /healthz: 200")


def test_a_row_defining_another_file_of_the_same_folder_does_not_answer():
    """"/etc/mailname" shares "etc" with the asked "/etc/hosts": the table row defining it
    is not the answer, and retrieval's first passage, which is about the question, is."""
    sources = [
        source(1, "The hostname resolution is supported by the NSS mechanism. The "
                  "/etc/nsswitch.conf file dictates the order: /etc/hosts or DNS."),
        source(2, "file: /etc/mailname; function: default host name for outgoing mail. "
                  "file: /etc/email-addresses; function: host name spoofing for mail."),
    ]
    sources = [replace(s, coverage=0.5) for s in sources]
    for backend in backends():
        chosen = backend.select("Which config file decides whether /etc/hosts or DNS is "
                                "asked first?", sources)
        assert {s.n for s in chosen} <= {1}, chosen


def test_a_definition_is_quoted_without_the_rows_defining_other_names():
    """In a settings table the row of another setting that mentions the asked one scores
    high too; quoted before it, it read as the answer."""
    text = ("Variable: CITEWISE_ANSWER_BACKEND; Default: extractive; What it does: vllm asks "
            "the LLM served at VLLM_BASE_URL. Variable: VLLM_BASE_URL; Default: empty; What "
            "it does: The OpenAI-compatible base URL of the vLLM server.")
    for backend in backends():
        chosen = backend.select("What is VLLM_BASE_URL?", [source(1, text)])
        assert [s.text[:23] for s in chosen] == ["Variable: VLLM_BASE_URL"], chosen


@pytest.mark.parametrize(("text", "heading"), [
    ("4.4.1. Targets of the rules file\n\nEvery rules file, like any other Makefile, "
     "consists of several rules.", ("4.4. rules", "4.4.1. Targets of the rules file")),
    ("A.4. Targets of the rules file\n\nEvery rules file, like any other Makefile, "
     "consists of several rules.", ("A. Advanced", "A.4. Targets of the rules file")),
])
def test_a_numbered_heading_is_not_quoted_as_a_sentence(text, heading):
    """The sentence splitter reads "4.4.1. Targets of the rules file" as a number and a
    sentence; the heading without its number was quoted as the answer's first sentence."""
    chosen = ExtractiveBackend().select("What are the targets of the rules file?",
                                        [source(1, text, heading=heading)])
    assert [s.text for s in chosen] == ["Every rules file, like any other Makefile, "
                                        "consists of several rules."]


# The demo knowledge base's "Rebuilding indexes" (docs/admin-guide.md): a synopsis, prose,
# and a list whose steps make one sentence with its lead-in.
REBUILDING = source(1, (
    "Rebuilding indexes\n\n"
    "python manage.py rebuild_indexes [--kb SLUG ...] [--backend faiss|milvus|milvus:URI]\n\n"
    "The command rebuilds them (all knowledge bases, or the ones named) without "
    "re-embedding. Search also rebuilds a missing or damaged index by itself the first time "
    "it needs it.\n\n"
    "To move a deployment from FAISS to Milvus (or back):\n\n"
    "1. python manage.py rebuild_indexes --backend milvus:http://milvus:19530 while the "
    "current store keeps serving;\n\n"
    "2. set CITEWISE_VECTOR_STORE=milvus:http://milvus:19530 for every web process and "
    "worker and restart them;\n\n"
    "3. run step 1 again (it takes what was uploaded between 1 and 2), or pause uploads "
    "during the move."), heading=("Administering knowledge bases", "Rebuilding indexes"))
OPEN_ENDS = tuple(",;:，；：、")


MIGRATION = ("To move a deployment from FAISS to Milvus (or back):\n\n"
             "1. python manage.py rebuild_indexes --backend milvus:http://milvus:19530 while "
             "the current store keeps serving;\n\n"
             "2. set CITEWISE_VECTOR_STORE=milvus:http://milvus:19530 for every web process "
             "and worker and restart them;\n\n"
             "3. run step 1 again (it takes what was uploaded between 1 and 2), or pause "
             "uploads during the move.")


def test_a_numbered_step_cut_at_a_semicolon_is_not_quoted():
    """Each step of "To move ...: 1. ...; 2. ...; 3. ..." is part of one sentence; quoted
    alone, "1. python manage.py rebuild_indexes --backend milvus:... while the current store
    keeps serving;" answered "How do I rebuild the indexes?" with a migration step. A
    line left open by its comma, semicolon or colon, or continuing one, is not quoted, and
    the whole list is no context for the synopsis that answers."""
    for backend in backends():
        answer = collect(backend.stream(AnswerRequest("How do I rebuild the indexes?",
                                                      [REBUILDING]))).text
        quotes = re.split(r"\s*\[\d+\]\s*", answer)
        assert not any(quote.endswith(OPEN_ENDS) for quote in quotes), answer
        assert not any(step in answer for step in ("keeps serving", "restart them",
                                                   "run step 1 again")), answer


@pytest.mark.parametrize("question", ["How do I move a deployment from FAISS to Milvus?",
                                      "What do I run again during the move?"])
def test_a_list_that_is_one_sentence_is_quoted_whole_under_one_marker(question):
    """The lead-in and every step, in order, one per line as the document has them, in a
    paragraph of their own (Markdown shows the numbered list) and followed by one marker."""
    for backend in backends():
        answer = collect(backend.stream(AnswerRequest(question, [REBUILDING]))).text
        assert f"\n\n{MIGRATION} [1]" in answer or answer.startswith(f"{MIGRATION} [1]"), answer
        assert answer.count("[1]") == len(re.findall(r"\[1\](?:\n\n| |$)", answer))


def test_a_list_longer_than_the_budget_is_not_quoted_cut():
    """A list whose whole does not fit `max_chars` is not quoted at all, nor any piece."""
    config = ExtractiveConfig(max_chars=len(MIGRATION) - 1)
    for backend in backends():
        backend.config = config
        answer = collect(backend.stream(AnswerRequest(
            "How do I move a deployment from FAISS to Milvus?", [REBUILDING]))).text
        assert not any(line in answer for line in MIGRATION.split("\n\n")), answer


def test_the_verifier_accepts_a_list_quoted_whole():
    answer = collect(ExtractiveBackend().stream(AnswerRequest(
        "How do I move a deployment from FAISS to Milvus?", [REBUILDING]))).text
    text, citations, _ = parse_citations(answer, [REBUILDING])
    result = Verifier().verify(text, citations, [REBUILDING])
    assert result.grounded and all(s.cited == (1,) for s in result.sentences), result


def test_the_synopsis_and_the_sentences_about_rebuilding_answer():
    chosen = ExtractiveBackend(embed_query=embed_query, embed_passages=embed_passages).select(
        "How do I rebuild the indexes?", [REBUILDING])
    assert chosen[0].text == ("python manage.py rebuild_indexes [--kb SLUG ...] "
                              "[--backend faiss|milvus|milvus:URI]")
    assert all(not s.text.startswith(("1.", "2.", "3.", "To move")) for s in chosen)


def test_the_steps_of_a_list_of_whole_sentences_are_quoted():
    """A list announced by a colon whose items are sentences: each step reads whole."""
    steps = source(1, "To install Python on Windows:\n1. Download the installer from "
                      "python.org.\n2. Run the installer and tick Add Python to PATH.")
    chosen = ExtractiveBackend().select("How do I install Python on Windows?", [steps])
    assert [s.text for s in chosen] == ["1. Download the installer from python.org.",
                                        "2. Run the installer and tick Add Python to PATH."]
