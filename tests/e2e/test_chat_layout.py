"""The chat page's layout and keyboard in Chromium, against Django's live server (cheap:
no `site` fixture): a long conversation opens at its newest message, a new answer comes
into sight above the composer, and the citation preview and the conversation menu behave
as a keyboard and mouse user expects."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import expect

from citewise.chat.models import Citation, Conversation, Message, Role
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from tests.factories import make_kb, make_user

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package"),
]

HANDBOOK = """# IT handbook

## Passwords

Passwords expire every 90 days. You can reset your password in the self-service portal.
"""
ANSWER = ("Run python manage.py rebuild_indexes [1] to rebuild every index without embedding "
          "the passages again. [2] Search also rebuilds a damaged index by itself. [1]")


def long_conversation(user, kb, title: str, exchanges: int) -> Conversation:
    conversation = Conversation.objects.create(user=user, title=title)
    conversation.knowledge_bases.set([kb])
    for number in range(exchanges):
        Message.objects.create(conversation=conversation, role=Role.USER,
                               text=f"Question {number}: how do I rebuild the indexes?")
        answer = Message.objects.create(conversation=conversation, role=Role.ASSISTANT,
                                        grounded=True, text=f"Answer {number}. {ANSWER}")
        # A heading path that is only the title, and one that says more.
        Citation.objects.create(message=answer, n=1, knowledge_base=kb, document_name="admin.md",
                                title="Configuration", heading_path=["Configuration"],
                                snippet="python manage.py rebuild_indexes")
        Citation.objects.create(message=answer, n=2, knowledge_base=kb, document_name="admin.md",
                                title="Administering", heading_path=["Administering",
                                                                     "Rebuilding indexes"],
                                snippet="The command rebuilds them without re-embedding.")
    return conversation


@pytest.fixture
def kim():
    # Rows are made before the browser starts: Playwright's sync API runs an event loop in
    # this thread, in which Django refuses database calls.
    user = make_user("kim")
    kb = make_kb("it-handbook")
    kb.reader_users.add(user)
    document = add_document(SYSTEM, kb, BytesIO(HANDBOOK.encode()), original_name="handbook.md",
                            enqueue=False).document
    ingest(document.pk)
    user.short = long_conversation(user, kb, "Short one", 1)
    user.long = long_conversation(user, kb, "Rebuilding indexes", 12)
    return user


@pytest.fixture
def browser(kim):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def signed_in_page(browser, live_server, *, width: int = 1280, height: int = 800):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(
        message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "kim")
    page.fill("input[name=password]", "pw-for-tests")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server.url}/chat/")
    return page


IN_SIGHT = """(node) => {
  const box = node.getBoundingClientRect();
  const messages = document.getElementById("messages").getBoundingClientRect();
  const composer = document.getElementById("composer").getBoundingClientRect();
  return box.top >= messages.top - 1 && box.bottom <= messages.bottom + 1
         && messages.bottom <= composer.top + 1 && composer.bottom <= window.innerHeight + 1;
}"""


@pytest.mark.parametrize("width,height", [(1280, 800), (360, 740)])
def test_a_long_conversation_opens_at_its_newest_message_and_a_new_answer_comes_into_sight(
        browser, live_server, kim, width, height):
    page = signed_in_page(browser, live_server, width=width, height=height)
    page.goto(f"{live_server.url}/chat/c/{kim.long.pk}/")
    newest = page.locator("#messages .question").last
    expect(newest).to_contain_text("Question 11")
    assert page.evaluate(IN_SIGHT, newest.element_handle())
    # The page itself does not scroll: the top bar stays and so does the composer.
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")

    page.locator("#question").fill("How often do passwords expire?")
    page.locator("#question").press("Enter")
    answer = page.locator("#messages article.answer[data-message-id]").nth(12)
    expect(answer.locator(".answer-actions")).to_be_visible()
    expect(page.locator("#messages .question").last).to_contain_text("passwords expire")
    assert page.evaluate(IN_SIGHT, answer.locator(".answer-actions").element_handle())
    assert page.evaluate("window.scrollY") == 0
    assert page.problems == []


INSIDE_WINDOW = """(node) => { const box = node.getBoundingClientRect();
  return box.left >= 0 && box.right <= document.documentElement.clientWidth; }"""


@pytest.mark.parametrize("width", [1280, 360])
def test_a_citation_preview_fits_the_window_lets_the_pointer_through_and_closes_on_escape(
        browser, live_server, kim, width):
    page = signed_in_page(browser, live_server, width=width)
    page.goto(f"{live_server.url}/chat/c/{kim.short.pk}/")
    chips = page.locator("#messages a.cite")
    rightmost = max(chips.all(), key=lambda chip: chip.bounding_box()["x"])
    rightmost.hover()
    preview = rightmost.locator(".cite-preview")
    expect(preview).to_be_visible()
    assert page.evaluate(INSIDE_WINDOW, preview.element_handle())
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()

    # Over another chip's preview, the pointer still reaches the chip beneath it.
    first, second = chips.nth(0), chips.nth(1)
    first.hover()
    box = second.bounding_box()
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('a.cite')?.dataset.n",
                         [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]) == "2"

    page.mouse.move(1, 1)
    first.focus()
    expect(first.locator(".cite-preview")).to_be_visible()
    # The title is not said twice: the heading path "Configuration" is the title.
    expect(first.locator(".cite-title")).to_have_text("Configuration")
    expect(first.locator(".cite-where")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(first.locator(".cite-preview")).to_be_hidden()
    page.keyboard.press("Tab")
    expect(second.locator(".cite-preview")).to_be_visible()
    assert page.problems == []


def test_escape_closes_a_conversation_menu_and_returns_to_its_button(browser, live_server, kim):
    page = signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/chat/c/{kim.long.pk}/")
    menu = page.locator("#conversation-list details.manage").first
    menu.locator("summary").click()
    expect(menu.locator("input[name=title]")).to_be_visible()
    menu.locator("input[name=title]").focus()
    page.keyboard.press("Escape")
    expect(menu.locator("input[name=title]")).to_be_hidden()
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert menu.evaluate("(menu) => menu.contains(document.activeElement)")


def focused(page) -> str:
    return page.evaluate("""() => { const node = document.activeElement;
        return node.id || node.className || node.tagName; }""")


def test_after_rename_delete_and_new_conversation_the_focus_is_where_one_works(
        browser, live_server, kim):
    page = signed_in_page(browser, live_server)
    page.on("dialog", lambda dialog: dialog.accept())
    reading = f"{live_server.url}/chat/c/{kim.long.pk}/"
    page.goto(reading)
    short = page.locator("#conversation-list li").nth(1)  # the newest first
    expect(short).to_contain_text("Short one")
    short.locator("summary").click()
    short.locator("input[name=title]").fill("Printers")
    short.locator("input[name=title]").press("Enter")
    expect(short.locator(".conversation-title")).to_have_text("Printers")
    assert page.evaluate("document.activeElement.closest('li')?.textContent.includes('Printers')")
    assert focused(page) == "open" and page.url == reading
    expect(page.locator("#thread-title")).to_have_text("Rebuilding indexes")

    # Deleting another conversation keeps this one open; the focus goes to a neighbour.
    printers = page.locator("#conversation-list li").filter(has_text="Printers")
    printers.locator("summary").click()
    printers.locator("button.danger").click()
    expect(printers).to_have_count(0)
    assert page.url == reading and focused(page) == "open"

    # Deleting the one being read opens a new conversation, ready to type.
    page.locator("#conversation-list li.current summary").click()
    page.locator("#conversation-list li.current button.danger").click()
    page.wait_for_url(f"{live_server.url}/chat/")
    assert focused(page) == "question"

    page.locator("#question").fill("half a thought")
    page.locator(".new-conversation").click()
    assert focused(page) == "question"
    assert page.problems == []


def test_regenerate_replaces_the_last_answer_instead_of_repeating_the_question(
        browser, live_server, kim):
    page = signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/chat/c/{kim.short.pk}/")
    page.locator("#question").fill("a draft of my next question")
    old = page.locator("#messages article.answer").get_attribute("data-message-id")
    page.locator("button.regenerate").click()
    answers = page.locator("#messages article.answer[data-message-id]")
    expect(answers).to_have_count(1)
    expect(answers.first).not_to_have_attribute("data-message-id", old)
    expect(page.locator("#messages .question")).to_have_count(1)
    expect(page.locator("#messages .question")).to_contain_text("Question 0")
    expect(page.locator("#question")).to_have_value("a draft of my next question")
    page.reload()
    expect(page.locator("#messages .question")).to_have_count(1)
    assert page.problems == []
