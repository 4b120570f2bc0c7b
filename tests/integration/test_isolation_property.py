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

Examples: ISOLATION_PROFILE picks the Hypothesis profile: "ci" (the default: 200
examples, derandomized, so a failure repeats on every run and on any machine) or "dev"
(random, fewer, failures kept in .hypothesis/ and replayed first).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.integration.isolation_doors import ANSWER_DOORS, PLACE_DOORS, listing_doors, visit
from tests.integration.isolation_world import (
    KNOWLEDGE_BASES,
    Scenario,
    build_corpus,
    realise,
    scenarios,
    undo,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

settings.register_profile(
    "isolation-ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile(
    "isolation-dev", max_examples=int(os.environ.get("ISOLATION_EXAMPLES", "40")), deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROFILE = settings.get_profile(f"isolation-{os.environ.get('ISOLATION_PROFILE', 'ci')}")


@pytest.fixture
def corpus():
    return build_corpus()


@settings(PROFILE)
@given(scenario=scenarios, answering=st.sampled_from(sorted(ANSWER_DOORS)),
       group=st.sampled_from(sorted(PLACE_DOORS)), target=st.integers(0, KNOWLEDGE_BASES - 1))
def test_no_door_shows_a_knowledge_base_the_actor_may_not_read(
        corpus, scenario: Scenario, answering: str, group: str, target: int):
    note(f"{scenario!r}")
    realised = realise(corpus, scenario)
    try:
        at_the_doors = visit(corpus, scenario, realised)
        listing_doors(at_the_doors)
        ANSWER_DOORS[answering](at_the_doors)
        PLACE_DOORS[group](at_the_doors, target, corpus.places[target])
    finally:
        undo(corpus, realised)
