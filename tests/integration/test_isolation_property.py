"""Isolation, as a property: in any generated scenario of users (admin, staff with one
app's permissions, plain; active or not), groups, knowledge bases with access rules
(everyone, groups, people; readers and editors) and API keys (scoped to knowledge bases
and operations; revoked, expired), no door shows anything of a knowledge base the actor
may not read, nor tells it apart from one that does not exist.

Doors: the chat page, its SSE answers, conversations, feedback, sources, page images,
originals; the console's knowledge base pages and actions, reports with their CSV, the
audit log, Django's admin; /metrics; the REST API and the OpenAI-compatible endpoints.
(MCP and the official OpenAI client over HTTP: test_isolation_live.py.) The doors are in
isolation_doors.py, the corpus, scenarios and the expected access in isolation_world.py.

Examples (isolation_world.profile): with ISOLATION_PROFILE=ci, the default, 29 for each
of the 7 groups of doors, 203 in all, derandomized; with "dev", ISOLATION_EXAMPLES per
group, random.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from tests.integration.isolation_doors import (
    ANSWER_DOORS,
    ANSWERED_WITH,
    PLACE_DOORS,
    listing_doors,
    visit,
)
from tests.integration.isolation_world import (
    KNOWLEDGE_BASES,
    Scenario,
    build_corpus,
    plainly,
    profile,
    realise,
    scenarios,
    undo,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Each group of doors has a property run of its own, so that each is asked in as many
# examples: drawn by Hypothesis among the others, some groups came up in 2 examples of 200.
GROUPS = sorted(PLACE_DOORS)
EXAMPLES = -(-200 // len(GROUPS))  # per group in CI: 203 examples in all
PROFILE = profile("isolation", ci_examples=EXAMPLES, dev_examples=10)


@pytest.fixture
def corpus():
    return build_corpus()


@pytest.mark.parametrize("group", GROUPS)
@settings(PROFILE)
@given(scenario=scenarios, target=st.integers(0, KNOWLEDGE_BASES - 1))
# Leaks this property found, kept as examples every run tries (in every group): staff
# given the API key permissions saw every key and knowledge base in Django's admin; the
# admin's knowledge base filters offered every knowledge base; a gap question asked of
# several knowledge bases named them all, with their closest documents, to an editor of
# one (the console's gap report and the admin's list).
@example(scenario=plainly("staff", staff_app="accounts", reads=(0,), key=(0, 1)), target=1)
@example(scenario=plainly("staff", staff_app="knowledge"), target=2)
@example(scenario=plainly("staff", staff_app="chat", edits=(0,)), target=1)
@example(scenario=plainly("plain", edits=(1,), reads=(0,), key=(1, 2)), target=2)
def test_no_door_shows_a_knowledge_base_the_actor_may_not_read(
        corpus, group: str, scenario: Scenario, target: int):
    note(f"{scenario!r}")
    realised = realise(corpus, scenario)
    try:
        at_the_doors = visit(corpus, scenario, realised)
        listing_doors(at_the_doors)
        ANSWER_DOORS[ANSWERED_WITH[group]](at_the_doors)
        PLACE_DOORS[group](at_the_doors, target, corpus.places[target])
    finally:
        undo(corpus, realised)
