"""What a person does on the chat page, as the browser tests (and benchmarks/chat_page.py)
do it: pick knowledge bases, ask, wait for the stored answer.

Selectors are the page's own (frontend/templates/frontend/chat/): #question, the picker
(details.picker with one checkbox per knowledge base), article.answer (class `streaming`
while it streams; replaced by the stored answer, which carries data-message-id).
"""

from __future__ import annotations

import time

# Records, from the moment it is installed, each piece of answer text the page adds while
# an answer streams (text nodes appended to .answer-body.live), with the time it became
# part of the page on the clock of performance.timeOrigin (ms since the epoch).
RECORD_PIECES = """() => {
  window.citewisePieces = [];
  new MutationObserver((mutations) => {
    const now = performance.timeOrigin + performance.now();
    for (const mutation of mutations) {
      if (!mutation.target.classList || !mutation.target.classList.contains("live")) continue;
      for (const node of mutation.addedNodes) {
        if (node.nodeType === Node.TEXT_NODE) window.citewisePieces.push({t: now, text: node.data});
      }
    }
  }).observe(document.getElementById("messages"), {childList: true, subtree: true});
}"""


def pick(page, *names: str) -> None:
    """Tick exactly the knowledge bases named (by their label) in the picker."""
    page.locator("details.picker > summary").click()
    for box in page.locator("details.picker label.choice").all():
        wanted = box.text_content().strip() in names
        checkbox = box.locator("input[type=checkbox]")
        if checkbox.is_checked() != wanted:
            checkbox.click()
    page.locator("details.picker > summary").click()


def picker_names(page) -> list[str]:
    """Every knowledge base the picker offers (open or closed)."""
    return [label.strip() for label in
            page.locator("details.picker label.choice").all_text_contents()]


def ask(page, question: str, *, timeout: float = 60_000):
    """Type the question, press Enter, and return the stored answer (a locator) once the
    streamed one has been replaced by it."""
    answers = page.locator("#messages article.answer[data-message-id]")
    before = answers.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    answer = answers.nth(before)
    answer.wait_for(timeout=timeout)
    return answer


def wait_until(page, predicate: str, *, timeout: float = 30.0) -> None:
    """Poll a JavaScript function until it returns true. (page.wait_for_function would
    evaluate a string in the page, which the page's CSP, rightly, refuses.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {predicate}")
        time.sleep(0.05)
