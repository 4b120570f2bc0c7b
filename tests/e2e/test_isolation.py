"""bob reads only the demo knowledge base (tests/e2e/site.py). He never sees the security
handbook offered, and everything of it, or of alice's, answers him 404, as if it did not
exist: its conversation, its passages, their page images and the original files."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_page import ask, pick, picker_names
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.slow


def test_a_reader_of_the_demo_only_gets_404_for_everything_of_the_handbook(site, new_page):
    alice, _ = new_page()
    sign_in(alice, site, "alice")
    pick(alice, "Security handbook")
    answer = ask(alice, "Who disables lost badges?")
    conversation = alice.url
    answer_id = answer.get_attribute("data-message-id")

    bob, errors = new_page()
    sign_in(bob, site, "bob")
    assert picker_names(bob) == ["Citewise documentation"]
    expect(bob.locator("#history")).not_to_contain_text("Who disables lost badges")

    facts = site.facts
    pdf_chunk = facts["chunks"]["badges.pdf"]
    hidden = [conversation,
              f"{site.url}/sources/{pdf_chunk}/?page=2",
              f"{site.url}/sources/{facts['chunks']['visitors.docx']}/",
              f"{site.url}/sources/{pdf_chunk}/pages/2.png",
              f"{site.url}/documents/{facts['documents']['badges.pdf']}/original"]
    for url in hidden:
        assert bob.request.get(url).status == 404, url
    # The same addresses, for alice, exist: the 404s above are about bob.
    for url in hidden:
        assert alice.request.get(url).status == 200, url
    response = bob.goto(conversation)
    assert response.status == 404
    expect(bob.locator("body")).not_to_contain_text("badges")

    # Rating alice's answer, or asking the handbook by its id, gets him nowhere either;
    # the refusal to ask is the same for a knowledge base that does not exist.
    bob.goto(f"{site.url}/chat/")
    token = bob.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    rated = bob.request.post(f"{site.url}/chat/messages/{answer_id}/feedback",
                             form={"rating": "up"}, headers=headers)
    assert rated.status == 404
    handbook = facts["knowledge_bases"]["handbook"]["id"]
    asked = bob.request.post(f"{site.url}/chat/messages/", headers=headers,
                             form={"question": "Who disables lost badges?",
                                   "knowledge_base": str(handbook)})
    nowhere = bob.request.post(f"{site.url}/chat/messages/", headers=headers,
                               form={"question": "Who disables lost badges?",
                                     "knowledge_base": "999999"})
    assert asked.status == nowhere.status == 403
    assert asked.json() == nowhere.json()
    assert errors.dialogs == []
