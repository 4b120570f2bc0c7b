"""The chat page in Chromium, as an employee uses it: sign in, pick a knowledge base, ask,
watch the answer stream in, stop a long one, open a citation at its highlighted passage,
rate the answer, reload, and carry on the conversation.

Answers come from the extractive backend (no LLM), except in the "cafeteria" knowledge
base, which asks a slow stand-in for vLLM (tests/e2e/llm_stand_in.py) so that an answer
lasts long enough to be stopped.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e import llm_stand_in
from tests.e2e.chat_page import RECORD_PIECES, ask, pick, wait_until
from tests.e2e.conftest import shoot, sign_in
from tests.e2e.site import DOCX_SENTENCE, KOREAN_SENTENCE

pytestmark = pytest.mark.slow


def no_trouble(errors) -> None:
    assert errors.dialogs == [], errors.dialogs
    assert errors.console == [], errors.console
    assert errors.outside == [], errors.outside


def test_an_answer_streams_in_pieces_and_its_citation_opens_the_pdf_page_highlighted(
        site, new_page, screenshots):
    page, errors = new_page(height=800)
    sign_in(page, site, "alice")
    pick(page, "Security handbook")
    page.evaluate(RECORD_PIECES)
    answer = ask(page, "Who disables lost badges?")

    # The extractive backend sends the quoted sentence and its marker as separate events;
    # the page shows each as it arrives.
    pieces = page.evaluate("window.citewisePieces")
    assert len(pieces) > 1, pieces
    assert "extension 4455" in "".join(piece["text"] for piece in pieces)
    expect(answer.locator(".answer-body")).to_contain_text("security desk at extension 4455")
    assert re.search(r"/chat/c/\d+/$", page.url), "the new conversation has its own address"

    shoot(page, screenshots, "chat-en")
    chip = answer.locator("a.cite").first
    expect(chip).to_have_attribute("href", re.compile(r"^/sources/\d+/\?page=2&quote=.+#cited$"))
    chip.hover()
    preview = chip.locator(".cite-preview")
    expect(preview).to_be_visible()
    expect(preview.locator(".cite-title")).to_have_text("badges.pdf")
    expect(preview.locator(".cite-where")).to_have_text("page 2")
    expect(preview.locator(".cite-snippet")).to_contain_text("extension 4455")
    shoot(page, screenshots, "citation-preview", around=[answer, preview])

    chip.click()
    page.wait_for_url(re.compile(r"/sources/\d+/\?page=2"))
    image = page.locator("figure.pdf-page img")
    expect(image).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    expect(page.locator(".cited-place")).to_have_text("page 2")
    box = page.locator("figure.pdf-page svg rect.quote").first
    expect(box).to_be_attached()
    # The sentence starts 130 mm down page 2 (tests/e2e/site.py), below its first third:
    # so does its box, and the page was scrolled to show it.
    height = float(page.locator("figure.pdf-page svg").get_attribute("viewBox").split()[3])
    assert float(box.get_attribute("y")) > height / 3
    assert page.evaluate("""(rect) => { const r = rect.getBoundingClientRect();
        return r.bottom > 0 && r.top < window.innerHeight; }""", box.element_handle())
    # For the picture: the quoted sentence, the page navigation and the highlighted box.
    page.evaluate("""() => window.scrollTo(0, window.scrollY - 16
                      + document.querySelector("figure.quoted").getBoundingClientRect().top)""")
    shoot(page, screenshots, "source-pdf")
    no_trouble(errors)


def test_rate_reload_and_follow_up_with_a_word_passage(site, new_page):
    page, errors = new_page()
    sign_in(page, site, "alice")
    pick(page, "Security handbook")
    first = ask(page, "Who disables lost badges?")
    conversation_url = page.url

    helpful = first.get_by_role("button", name="Helpful", exact=True)
    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    first.get_by_label("Comment (optional)").fill("Quick and clear.")
    first.get_by_role("button", name="Send comment").click()
    expect(page.locator("#announcer")).to_have_text("Thank you for your feedback.")

    page.reload()
    first = page.locator("#messages article.answer[data-message-id]").first
    expect(first).to_contain_text("extension 4455")
    expect(first.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    expect(first.get_by_label("Comment (optional)")).to_have_value("Quick and clear.")
    expect(page.locator("#history [aria-current=page]")).to_have_text(
        re.compile("Who disables lost badges"))
    # The knowledge base chosen is remembered with the conversation.
    assert page.locator("details.picker input:checked").count() == 1
    expect(page.locator("details.picker .picked")).to_have_text("Security handbook")

    # Longer than six words: the extractive backend adds the previous question's terms to
    # short follow-ups ("and how quickly?"), which would pull the badge passage back.
    follow_up = ask(page, "What do visitors have to wear in our offices?")
    assert page.url == conversation_url, "the follow-up stays in the same conversation"
    expect(page.locator("#messages article.answer[data-message-id]")).to_have_count(2)
    expect(follow_up).to_contain_text("red lanyard")
    follow_up.locator("a.cite").first.click()
    page.wait_for_url(re.compile(r"/sources/\d+/"))
    passage = page.locator("article.extracted mark#cited")
    expect(passage).to_contain_text(DOCX_SENTENCE)
    expect(page.locator("h1")).to_have_text("Visitors")  # the Word file's heading
    no_trouble(errors)


def test_stop_ends_a_long_answer_and_cancels_the_model_request(site, new_page):
    page, errors = new_page()
    sign_in(page, site, "alice")
    pick(page, "Cafeteria")
    page.evaluate(RECORD_PIECES)
    page.locator("#question").fill("When does the cafeteria serve lunch?")
    page.locator("#question").press("Enter")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    wait_until(page, "() => window.citewisePieces.length >= 5")
    request = len(site.llm.generations) - 1  # the model's request for this answer
    stop.click()

    answer = page.locator("#messages article.answer.stopped[data-message-id]")
    expect(answer).to_be_visible(timeout=10_000)
    expect(answer.locator(".stopped-label")).to_have_text("Stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    shown = answer.locator(".answer-body").inner_text()
    assert "cafeteria serves lunch" in shown
    assert len(shown.split()) < llm_stand_in.TOKENS / 2, "the whole answer was shown anyway"

    # The model's request was closed, not left running to the end: the stand-in notices
    # at its next write.
    deadline = time.monotonic() + 5
    while not site.llm.generations[request].cancelled and time.monotonic() < deadline:
        time.sleep(0.1)
    generation = site.llm.generations[request]
    assert generation.cancelled and not generation.finished
    assert generation.tokens_sent < llm_stand_in.TOKENS

    page.reload()
    stored = page.locator("#messages article.answer[data-message-id]")
    expect(stored).to_have_class(re.compile(r"\bstopped\b"))
    expect(stored.locator(".stopped-label")).to_have_text("Stopped")
    no_trouble(errors)


def test_a_korean_session_gets_korean_pages_and_a_korean_answer(site, new_page, screenshots):
    page, errors = new_page(locale="ko-KR", height=800)
    page.goto(f"{site.url}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="Citewise 로그인")).to_be_visible()
    sign_in(page, site, "minji")
    expect(page.get_by_role("link", name="새 대화")).to_be_visible()
    expect(page.get_by_role("button", name="보내기")).to_be_visible()
    expect(page.locator("#question")).to_have_attribute("placeholder", "질문을 입력하세요…")
    expect(page.locator("#history .empty")).to_have_text("아직 대화가 없습니다.")
    pick(page, "인사 규정")
    answer = ask(page, "연차 휴가는 언제까지 신청해야 하나요?")
    expect(answer.locator(".answer-body")).to_contain_text("3일 전에 팀장에게 신청")
    chip = answer.locator("a.cite").first
    expect(chip).to_be_visible()
    expect(answer.locator("details.sources summary")).to_contain_text("출처")
    expect(answer.get_by_role("button", name="도움이 됨")).to_be_visible()
    shoot(page, screenshots, "chat-ko")
    # Korean wraps between words, as it is read, not inside them ("선\n택"): in the
    # answer and in the source viewer.
    word_break = "e => getComputedStyle(e).wordBreak"
    assert answer.locator(".answer-body").evaluate(word_break) == "keep-all"
    chip.click()
    expect(page.locator("mark#cited")).to_contain_text(KOREAN_SENTENCE)
    assert page.locator("mark#cited").evaluate(word_break) == "keep-all"
    no_trouble(errors)
