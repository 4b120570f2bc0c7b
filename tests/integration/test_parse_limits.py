"""A file over the per-document parsing limits fails alone, with a reason and a code, in
`ingest --sync` and in the worker alike (issue 10, "What was seen" 9, "Must work" 8)."""

from __future__ import annotations

import json
import time
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command

from citewise.knowledge.models import Document, DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document
from tests.factories import make_kb

pytestmark = pytest.mark.django_db(transaction=True)

# About 80 MB of text (under the 100 MB upload limit): reading it needs more than 256 MB,
# the lowest memory limit.
EXPORT = ("Each line of this log repeats the same words again. " * 20 + "\n\n") * 80_000
HOURS = "# Hours\n\nThe office opens at 8:00 on weekdays.\n"


def test_a_file_over_the_parsing_memory_limit_fails_alone_in_ingest_sync(tmp_path, settings):
    """The limits apply in `ingest --sync` as in the worker: the oversized file fails
    with its reason and code, the file beside it is indexed."""
    settings.PARSE_MEMORY_MB = 256
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "export.txt").write_text(EXPORT)
    (folder / "hours.md").write_text(HOURS)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("ingest", str(folder), "--kb", "limits", "--create", "--sync", "--json",
                     stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    assert report["indexed"] == 1
    (failed,) = report["failed"]
    assert failed["path"].endswith("export.txt") and failed["code"] == "parse_memory_limit"
    assert "memory" in failed["error"]
    assert Document.objects.get(original_name="export.txt").error_code == "parse_memory_limit"


def test_a_file_over_the_parsing_memory_limit_fails_alone_in_the_worker(own_worker):
    own_worker("limited", CITEWISE_PARSE_MEMORY_MB="256")
    kb = make_kb("limits")
    export = add_document(SYSTEM, kb, BytesIO(EXPORT.encode()), original_name="export.txt")
    hours = add_document(SYSTEM, kb, BytesIO(HOURS.encode()), original_name="hours.md")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and Document.objects.filter(
            status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING]).exists():
        time.sleep(0.5)
    failed = Document.objects.get(pk=export.document.pk)
    assert (failed.status, failed.error_code) == (DocumentStatus.FAILED, "parse_memory_limit")
    assert "memory" in failed.error
    assert Document.objects.get(pk=hours.document.pk).status == DocumentStatus.INDEXED
