"""Small helpers that create rows the way the product would."""

from __future__ import annotations

from io import BytesIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document


def make_user(username: str, *, groups: tuple[str, ...] = (), superuser: bool = False):
    users = get_user_model().objects
    user = (users.create_superuser if superuser else users.create_user)(
        username, f"{username}@example.com", "pw-for-tests"
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def make_kb(slug: str, **fields) -> KnowledgeBase:
    return KnowledgeBase.objects.create(name=slug.replace("-", " ").title(), slug=slug, **fields)


def make_staff(username: str, *, app_label: str):
    """A staff user (admin pages) with every permission of one app's models; which
    knowledge bases they may edit is still up to the knowledge bases."""
    from django.contrib.auth.models import Permission

    user = make_user(username)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label=app_label))
    return user


def load_document(kb: KnowledgeBase, name: str, content: str | bytes) -> Document:
    """A document added to `kb` and ingested in this process, as a worker would; fails
    the test if it does not end indexed."""
    data = content.encode() if isinstance(content, str) else content
    document = add_document(SYSTEM, kb, BytesIO(data), original_name=name,
                            enqueue=False).document
    ingest(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED, document.error
    return document
