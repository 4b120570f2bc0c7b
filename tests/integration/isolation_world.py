"""Generated access scenarios over one shared corpus, for the isolation properties
(tests/integration/test_isolation_property.py, test_isolation_live.py).

The corpus is built once per test: KNOWLEDGE_BASES knowledge bases, each with one tiny
PDF indexed for real (so passages, citations, page images and originals exist), and, by
a `writer` who reads everything, the traces people leave in each: a web conversation
with a cited answer and feedback, an API key's conversation, an unanswered question.
Every name, title, text, question and comment of a knowledge base carries its canary
word, so a leak is found by looking for the canaries of the knowledge bases the actor
may not read in every response body.

An example (Scenario) then only rewrites who may read what: the actor's role, groups and
activity, each knowledge base's access rules, and the actor's API key (knowledge bases,
operations, revoked or expired). `realise` writes it (committed: the chat page and the
REST stream answer on threads of their own, which see only committed rows) and `undo`
takes it back, so the index files are built once for hundreds of examples.

The expected access is computed here from the rules as docs/admin-guide.md states them,
independently of citewise.knowledge.permissions, which is what is under test.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from citewise.accounts.models import ApiKey, Operation
from citewise.chat.models import (
    Citation,
    Conversation,
    Feedback,
    Message,
    Rating,
    Role,
    UnansweredQuestion,
)
from citewise.knowledge.models import Chunk, Document, KnowledgeBase
from tests.factories import load_document, make_user

CANARIES = ("quillfeather", "marrowdale", "tinkerloom")
# Each knowledge base's address name, a second trace of it: a refusal may echo the slug
# the caller asked for (their own input), never the name or anything else.
SLUGS = {"quillfeather": "alpha-7x", "marrowdale": "bravo-7x", "tinkerloom": "charlie-7x"}
KNOWLEDGE_BASES = len(CANARIES)
GROUPS = ("group-0", "group-1", "group-2")
# A question every knowledge base answers (so any readable one is cited) and that names
# none of them (so its echo in a response is no leak).
QUESTION = "Who calibrates the widgets?"
ROLES = ("admin", "staff", "plain")
# A staff user's model permissions: all of one app's (Django's admin shows its pages).
STAFF_APPS = ("knowledge", "chat", "accounts", "audit")
KEY_STATES = ("active", "revoked", "expired")


def canary_pdf(canary: str) -> bytes:
    """Two pages, the canary on both (page images of page 1 and 2 exist)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, f"{canary.title()} guide\n\nThe {canary.title()} team calibrates "
                         "the widgets every seven days.")
    pdf.add_page()
    pdf.multi_cell(0, 8, f"Widgets of {canary.title()} are stored in the north hall.")
    return bytes(pdf.output())


@dataclass(frozen=True)
class Place:
    """One knowledge base of the corpus and the ids of its traces."""

    canary: str
    kb: KnowledgeBase
    document: Document
    chunk: Chunk
    conversation: Conversation  # the writer's, in the web chat
    answer: Message
    api_conversation: Conversation  # the writer's key's
    api_answer: Message


@dataclass(frozen=True)
class Corpus:
    places: tuple[Place, ...]
    groups: tuple[Group, ...]
    writer: object
    missing_id: int  # an id no knowledge base, document, chunk or message has
    missing_slug: str = "no-such-knowledge-base"

    @property
    def kbs(self) -> list[KnowledgeBase]:
        return [place.kb for place in self.places]


def _trace(writer, place_kb: KnowledgeBase, document: Document, chunk: Chunk, canary: str,
           api_key: ApiKey | None) -> tuple[Conversation, Message]:
    """A question about `canary` and its cited answer, as the ask service stores them."""
    conversation = Conversation.objects.create(user=writer, api_key=api_key,
                                               title=f"About {canary}")
    conversation.knowledge_bases.set([place_kb])
    Message.objects.create(conversation=conversation, role=Role.USER,
                           text=f"What does {canary} calibrate?")
    answer = Message.objects.create(
        conversation=conversation, role=Role.ASSISTANT, grounded=True, backend="extractive",
        text=f"The {canary} team calibrates the widgets [1].", prompt_tokens=10,
        completion_tokens=5)
    Citation.objects.create(message=answer, n=1, chunk=chunk, document=document,
                            knowledge_base=place_kb, document_name=document.original_name,
                            title=document.title, page=1, snippet=f"The {canary} team")
    Feedback.objects.create(message=answer, user=writer, rating=Rating.DOWN,
                            comment=f"{canary} needs more detail")
    return conversation, answer


def build_corpus() -> Corpus:
    writer = make_user("writer", superuser=True)
    groups = tuple(Group.objects.get_or_create(name=name)[0] for name in GROUPS)
    places = []
    for canary in CANARIES:
        kb = KnowledgeBase.objects.create(slug=SLUGS[canary], name=canary.title(),
                                          description=f"The {canary} shelf.")
        document = load_document(kb, f"{canary}-guide.pdf", canary_pdf(canary))
        chunk = document.chunks.order_by("ordinal").first()
        key, _ = ApiKey.objects.create_key(name=f"{canary} bot", owner=writer,
                                           operations=list(Operation.values))
        key.knowledge_bases.set([kb])
        conversation, answer = _trace(writer, kb, document, chunk, canary, None)
        api_conversation, api_answer = _trace(writer, kb, document, chunk, canary, key)
        gap = UnansweredQuestion.objects.create(question=f"Where is the {canary} budget?",
                                                user=writer)
        gap.knowledge_bases.set([kb])
        places.append(Place(canary, kb, document, chunk, conversation, answer,
                            api_conversation, api_answer))
    # Asked of them all: a report or list shows it to an editor of one of them, who must
    # not see the names or the documents of the others.
    everywhere = UnansweredQuestion.objects.create(
        question="Where is the shared widget budget?", user=writer,
        closest_documents=[{"document": p.document.original_name, "title": p.document.title,
                            "knowledge_base": p.kb.slug, "url": f"/sources/{p.chunk.pk}/"}
                           for p in places])
    everywhere.knowledge_bases.set([p.kb for p in places])
    top = max(Message.objects.order_by("-pk").first().pk, Chunk.objects.order_by("-pk")
              .first().pk, Document.objects.order_by("-pk").first().pk)
    return Corpus(tuple(places), groups, writer, missing_id=top + 10_000)


# --- Scenarios ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """Who reads and edits one knowledge base (the actor, by name, and groups, by index)."""

    everyone: bool
    actor_reads: bool
    actor_edits: bool
    reader_groups: frozenset[int]
    editor_groups: frozenset[int]


@dataclass(frozen=True)
class Key:
    knowledge_bases: frozenset[int]
    operations: tuple[str, ...]
    state: str


@dataclass(frozen=True)
class Scenario:
    role: str
    staff_app: str
    active: bool
    groups: frozenset[int]
    rules: tuple[Rules, ...]
    key: Key

    # The oracle: the rules of docs/admin-guide.md ("Who may read and edit").
    def person_reads(self, i: int) -> bool:
        rule = self.rules[i]
        return self.active and (self.role == "admin" or rule.everyone or rule.actor_reads
                                or rule.actor_edits
                                or bool(self.groups & (rule.reader_groups | rule.editor_groups)))

    def person_edits(self, i: int) -> bool:
        rule = self.rules[i]
        return self.active and (self.role == "admin" or rule.actor_edits
                                or bool(self.groups & rule.editor_groups))

    def key_works(self) -> bool:
        return self.active and self.key.state == "active"

    def key_reads(self, i: int) -> bool:
        return self.key_works() and i in self.key.knowledge_bases and self.person_reads(i)

    def may_use_console(self) -> bool:
        return self.active and (self.role == "admin"
                                or any(self.person_edits(i) for i in range(KNOWLEDGE_BASES)))


def plainly(role: str, *, staff_app: str = "knowledge", reads: tuple[int, ...] = (),
            edits: tuple[int, ...] = (), key: tuple[int, ...] = ()) -> Scenario:
    """A scenario written by hand (an explicit example): an active actor named as reader
    of `reads` and editor of `edits`, whose working key names `key` (ask, search)."""
    rules = tuple(Rules(everyone=False, actor_reads=i in reads, actor_edits=i in edits,
                        reader_groups=frozenset(), editor_groups=frozenset())
                  for i in range(KNOWLEDGE_BASES))
    return Scenario(role, staff_app, active=True, groups=frozenset(), rules=rules,
                    key=Key(frozenset(key), ("ask", "search"), "active"))


# Sparse rules: about half of the (actor, knowledge base) pairs are unreadable, so most
# examples have something to hide and something to show.
_one_group = st.one_of(st.just(frozenset()),
                       st.integers(0, len(GROUPS) - 1).map(lambda i: frozenset({i})))
_rules = st.builds(Rules, everyone=st.sampled_from((False,) * 5 + (True,)),
                   actor_reads=st.sampled_from((False,) * 4 + (True,)),
                   actor_edits=st.sampled_from((False,) * 5 + (True,)),
                   reader_groups=_one_group, editor_groups=_one_group)
_key = st.builds(Key, knowledge_bases=st.frozensets(st.integers(0, KNOWLEDGE_BASES - 1)),
                 operations=st.lists(st.sampled_from(Operation.values), min_size=1,
                                     unique=True).map(tuple),
                 state=st.sampled_from((*KEY_STATES, "active", "active")))
scenarios = st.builds(
    Scenario, role=st.sampled_from((*ROLES, "plain", "plain")),
    staff_app=st.sampled_from(STAFF_APPS), active=st.sampled_from((True,) * 4 + (False,)),
    groups=st.frozensets(st.integers(0, len(GROUPS) - 1), max_size=2),
    rules=st.tuples(*[_rules] * KNOWLEDGE_BASES), key=_key)


def profile(name: str, *, ci_examples: int, dev_examples: int) -> settings:
    """The Hypothesis settings ISOLATION_PROFILE picks: "ci" (the default: `ci_examples`,
    derandomized, so a failure repeats on every run and machine) or "dev" (random,
    ISOLATION_EXAMPLES or `dev_examples`, not shrunk: an example takes a second or more;
    failures are kept in .hypothesis/ and tried first next time). Both print the failing
    scenario and how to reproduce it; no deadline (the doors' speed is not the point)."""
    quiet = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    settings.register_profile(f"{name}-ci", max_examples=ci_examples, deadline=None,
                              derandomize=True, print_blob=True, suppress_health_check=quiet)
    settings.register_profile(
        f"{name}-dev", deadline=None, print_blob=True, suppress_health_check=quiet,
        max_examples=int(os.environ.get("ISOLATION_EXAMPLES", dev_examples)),
        phases=[Phase.explicit, Phase.reuse, Phase.generate])
    return settings.get_profile(f"{name}-{os.environ.get('ISOLATION_PROFILE', 'ci')}")


# --- Writing a scenario and taking it back -----------------------------------------------

_actors = itertools.count()


@dataclass
class Realised:
    """The actor and the plaintext of their key."""

    actor: object
    key: str


def realise(corpus: Corpus, scenario: Scenario) -> Realised:
    actor = make_user(f"actor-{next(_actors)}", superuser=scenario.role == "admin")
    actor.is_staff = scenario.role in ("admin", "staff")
    actor.is_active = scenario.active
    actor.save()
    if scenario.role == "staff":
        actor.user_permissions.add(*Permission.objects.filter(
            content_type__app_label=scenario.staff_app))
    actor.groups.set([corpus.groups[i] for i in scenario.groups])
    for kb, rule in zip(corpus.kbs, scenario.rules, strict=True):
        kb.readable_by_all = rule.everyone
        kb.save(update_fields=["readable_by_all"])
        kb.reader_users.set([actor] if rule.actor_reads else [])
        kb.editor_users.set([actor] if rule.actor_edits else [])
        kb.reader_groups.set([corpus.groups[i] for i in rule.reader_groups])
        kb.editor_groups.set([corpus.groups[i] for i in rule.editor_groups])
    fields = {"revoked": scenario.key.state == "revoked"}
    if scenario.key.state == "expired":
        fields["expiry_date"] = timezone.now() - timedelta(minutes=1)
    key, plaintext = ApiKey.objects.create_key(name="actor's bot", owner=actor,
                                               operations=list(scenario.key.operations),
                                               **fields)
    key.knowledge_bases.set([corpus.kbs[i] for i in scenario.key.knowledge_bases])
    return Realised(actor, plaintext)


def undo(corpus: Corpus, realised: Realised) -> None:
    """Everything the actor made goes, and the actor may do nothing any more (the user row
    stays: the audit log keeps its sign-ins, and audit events are append-only)."""
    actor = realised.actor
    Conversation.objects.filter(user=actor).delete()
    UnansweredQuestion.objects.filter(user=actor).delete()
    ApiKey.objects.filter(owner=actor).delete()
    actor.groups.clear()
    actor.user_permissions.clear()
    type(actor).objects.filter(pk=actor.pk).update(is_active=False, is_superuser=False,
                                                  is_staff=False)
    for kb in corpus.kbs:
        kb.readable_by_all = False
        kb.save(update_fields=["readable_by_all"])
        for rule in (kb.reader_users, kb.editor_users, kb.reader_groups, kb.editor_groups):
            rule.clear()
