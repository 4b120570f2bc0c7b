"""The permission service decides who reads and who edits each knowledge base."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from citewise.knowledge.permissions import (
    SYSTEM,
    can_edit,
    can_read,
    editable_knowledge_bases,
    readable_ids,
    readable_knowledge_bases,
)
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def kbs():
    hr = make_kb("hr-policies")
    it = make_kb("it-manuals")
    open_kb = make_kb("company-faq", readable_by_all=True)
    return hr, it, open_kb


def test_readers_by_user_and_group(kbs):
    hr, it, open_kb = kbs
    kim = make_user("kim", groups=("hr",))
    lee = make_user("lee")
    hr.reader_groups.add(Group.objects.get(name="hr"))
    it.reader_users.add(lee)
    assert readable_ids(kim) == {hr.pk, open_kb.pk}
    assert readable_ids(lee) == {it.pk, open_kb.pk}
    assert not can_edit(kim, hr)


def test_editors_read_and_edit(kbs):
    hr, it, _ = kbs
    park = make_user("park", groups=("it-admins",))
    it.editor_groups.add(Group.objects.get(name="it-admins"))
    assert can_read(park, it) and can_edit(park, it)
    assert not can_read(park, hr)
    assert list(editable_knowledge_bases(park)) == [it]


def test_no_duplicates_when_several_rules_grant_access(kbs):
    hr, _, _ = kbs
    choi = make_user("choi", groups=("hr", "managers"))
    hr.reader_users.add(choi)
    hr.reader_groups.add(*Group.objects.all())
    hr.editor_users.add(choi)
    assert list(readable_knowledge_bases(choi)).count(hr) == 1


def test_anonymous_and_inactive_users_read_nothing(kbs):
    _, _, open_kb = kbs
    gone = make_user("gone")
    open_kb.reader_users.add(gone)
    gone.is_active = False
    gone.save()
    assert readable_ids(AnonymousUser()) == set()
    assert readable_ids(gone) == set()


def test_superusers_and_the_system_see_everything(kbs):
    everything = {kb.pk for kb in kbs}
    assert readable_ids(make_user("root", superuser=True)) == everything
    assert readable_ids(SYSTEM) == everything
    assert all(can_edit(SYSTEM, kb) for kb in kbs)
