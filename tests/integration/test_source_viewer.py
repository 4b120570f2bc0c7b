"""A citation opens its passage, for readers of its knowledge base only."""

from __future__ import annotations

from io import BytesIO

import pytest

from citewise.knowledge.models import Chunk, Document
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = b"# Travel\n\n## Per diem\n\nThe daily allowance in Seoul is 80,000 won."


@pytest.fixture
def passage():
    kb = make_kb("finance")
    document = add_document(SYSTEM, kb, BytesIO(POLICY), original_name="travel.md",
                            enqueue=False).document
    ingest(document.pk)
    return Chunk.objects.get(document=document)


def test_a_reader_sees_the_cited_passage_highlighted(client, passage):
    reader = make_user("kim")
    passage.knowledge_base.reader_users.add(reader)
    client.force_login(reader)
    page = client.get(f"/sources/{passage.pk}/").content.decode()
    assert '<mark id="cited"' in page and "80,000 won" in page
    original = client.get(f"/documents/{passage.document_id}/original")
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == POLICY
    # Markdown (like HTML) downloads instead of rendering on Citewise's origin.
    assert original["Content-Disposition"].startswith("attachment")
    assert original["Content-Security-Policy"] == "sandbox"


def test_others_get_not_found_and_strangers_must_sign_in(client, passage):
    client.force_login(make_user("lee"))
    assert client.get(f"/sources/{passage.pk}/").status_code == 404
    assert client.get(f"/documents/{passage.document_id}/original").status_code == 404
    client.logout()
    response = client.get(f"/sources/{passage.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Document.objects.count() == 1


def test_a_korean_reader_sees_the_viewer_in_korean(client, passage):
    reader = make_user("park")
    passage.knowledge_base.reader_users.add(reader)
    client.force_login(reader)
    page = client.get(f"/sources/{passage.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "원본 파일 열기" in page and "Open the original file" not in page
