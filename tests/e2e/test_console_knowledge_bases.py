"""The console in Chromium: an admin creates a knowledge base, its document is ingested by
the worker, the admin lets a group read it and tries a question, whose citation opens the
passage. axe-core finds no serious or critical violation on the console's pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, sign_in
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.slow

SENTENCE = "Train tickets are booked through the travel desk at extension 2200."
# tess, a new person (the site's other users serve other tests), joins the group that
# will read the new knowledge base; minji does not.
MAKE_GROUP = ("from django.contrib.auth.models import Group, User; "
              f"User.objects.create_user('tess', password='{PASSWORD}').groups.add("
              "Group.objects.get_or_create(name='travellers')[0])")


def test_an_admin_creates_a_knowledge_base_grants_a_group_and_tries_a_question(
        site, new_page, tmp_path):
    site.manage("shell", "-c", MAKE_GROUP)
    page, errors = new_page()
    sign_in(page, site, "owner")
    page.goto(f"{site.url}/console/")
    page.get_by_role("link", name="New knowledge base").click()
    page.locator("#id_name").fill("Travel policy")
    page.get_by_label("Short name").fill("travel")
    page.get_by_label("Language of the documents").select_option("en")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".flash")).to_contain_text("Knowledge base “Travel policy” created.")

    handbook = tmp_path / "trains.md"
    handbook.write_text(f"# Trains\n\n{SENTENCE}\n")
    site.manage("ingest", str(handbook), "--kb", "travel")  # the worker indexes it

    page.get_by_role("link", name="Access", exact=True).click()
    page.get_by_role("group", name="Reader groups").get_by_label("travellers").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Access saved.")
    expect(page.get_by_role("region", name="Who may read and edit it")).to_contain_text(
        "group travellers")

    page.get_by_role("textbox", name="Question").fill("How are train tickets booked?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator("#trial-answer")
    expect(answer).to_contain_text("travel desk at extension 2200")
    answer.locator("a.cite").first.click()
    expect(page.locator("mark#cited")).to_contain_text("travel desk")
    source_path = page.url.removeprefix(site.url)
    assert (errors.dialogs, errors.console, errors.outside) == ([], [], [])

    page.goto(f"{site.url}/console/audit/")
    log = page.locator("main")
    for action in ("Knowledge base created", "Document uploaded", "Access changed"):
        expect(log).to_contain_text(action)
    member_and_stranger_see_what_they_may(site, new_page, source_path)

    # axe runs as an injected script, which the CSP refuses: a context without it.
    checker, _ = new_page(bypass_csp=True)
    sign_in(checker, site, "owner")
    found = {}
    for name, path in [("list", "/console/"), ("new", "/console/new/"),
                       ("access", "/console/knowledge-bases/travel/access/"),
                       ("settings", "/console/knowledge-bases/travel/edit/"),
                       ("delete", "/console/knowledge-bases/travel/delete/"),
                       ("page", "/console/knowledge-bases/travel/")]:
        checker.goto(f"{site.url}{path}")
        found[name] = serious_violations(checker)
    checker.get_by_role("textbox", name="Question").fill("How are train tickets booked?")
    checker.get_by_role("button", name="Ask", exact=True).click()
    expect(checker.locator("#trial-answer a.cite").first).to_be_visible()
    found["answer"] = serious_violations(checker)
    assert {name: v for name, v in found.items() if v} == {}


def member_and_stranger_see_what_they_may(site, new_page, source_path: str) -> None:
    """tess (in the group) finds the knowledge base in the chat's picker and opens its
    passage; minji (not in it) finds it nowhere: picker, console, the passage."""
    member, _ = new_page()
    sign_in(member, site, "tess")
    member.goto(f"{site.url}/chat/")
    expect(member.locator("details.picker")).to_contain_text("Travel policy")
    assert member.goto(f"{site.url}{source_path}").status == 200
    stranger, _ = new_page()
    sign_in(stranger, site, "minji")
    stranger.goto(f"{site.url}/chat/")
    expect(stranger.locator("details.picker")).not_to_contain_text("Travel policy")
    assert stranger.goto(f"{site.url}{source_path}").status == 404
    assert stranger.goto(f"{site.url}/console/knowledge-bases/travel/").status in (403, 404)
