"""The browser tests' site: users, knowledge bases and documents, added through the
citewise services to a running Citewise (its worker ingests them), then waited for.

`python -m tests.e2e.site populate PASSWORD` (with the server's environment) prints one
JSON line: the users, knowledge bases and documents made, for the tests to use.

- alice reads the handbook (a PDF, a Word file, a hostile HTML page), the Korean
  HR rules, the cafeteria notes and the demo knowledge base; bob reads only the demo
  knowledge base; minji (who uses the Korean pages) reads the Korean HR rules and the
  demo knowledge base.
- The cafeteria knowledge base answers with the vLLM backend (the server's vLLM is the
  slow stand-in of tests/e2e/llm_stand_in.py); the others with the server's default,
  extractive answers.
"""

from __future__ import annotations

import io
import json
import sys
import time

INDEXED_WITHIN = 420

PDF_PAGE_2 = ("Badges lost outside office hours are reported to the security desk at "
              "extension 4455, which disables them within ten minutes.")
DOCX_SENTENCE = "Visitors sign the guest book and wear a red lanyard at all times."
KOREAN_SENTENCE = "연차 휴가는 최소 3일 전에 팀장에게 신청해야 한다."
CAFETERIA_SENTENCE = "The cafeteria serves lunch from 11:30 to 14:00 on weekdays."
# What a hostile uploader would try: script in the title, text and file name.
HOSTILE_NAME = "<img src=x onerror=alert(1)>policy.html"
HOSTILE_HTML = """<!doctype html><html><head>
<title>Parking <script>alert('title')</script> rules</title></head><body>
<h1>Parking rules <img src=x onerror="alert('heading')"></h1>
<p>Parking permits are renewed every January at the facilities office
&lt;script&gt;alert('text')&lt;/script&gt; and cost nothing.</p>
<p>See <a href="javascript:alert('link')">the javascript: map</a> and
"><svg onload=alert('svg')> for the map of the parking garage levels.</p>
</body></html>"""


def pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Security handbook\n\nEvery employee carries a badge. Badges "
                         "open the doors of the floors the employee works on.")
    pdf.add_page()
    pdf.ln(120)  # the sentence starts 130 mm down page 2, below its first third
    pdf.multi_cell(0, 8, PDF_PAGE_2)
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Visitors", level=1)
    document.add_paragraph(DOCX_SENTENCE)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def populate(password: str) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from citewise.knowledge.choices import AnswerBackend
    from citewise.knowledge.models import KnowledgeBase
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.services import add_document, create_knowledge_base

    users = get_user_model()
    alice = users.objects.create_user("alice", password=password)
    users.objects.create_user("bob", password=password)
    minji = users.objects.create_user("minji", password=password)
    handbook = create_knowledge_base(SYSTEM, name="Security handbook", slug="handbook",
                                     language="en")
    hr = create_knowledge_base(SYSTEM, name="인사 규정", slug="hr-ko", language="ko")
    cafeteria = create_knowledge_base(SYSTEM, name="Cafeteria", slug="cafeteria",
                                      language="en")
    cafeteria.answer_backend = AnswerBackend.VLLM
    cafeteria.save(update_fields=["answer_backend"])
    for kb in (handbook, hr, cafeteria):
        kb.reader_users.add(alice)
    hr.reader_users.add(minji)
    files = [(handbook, "badges.pdf", pdf_bytes()), (handbook, "visitors.docx", docx_bytes()),
             (handbook, HOSTILE_NAME, HOSTILE_HTML.encode()),
             (hr, "휴가.md", f"# 휴가 규정\n\n{KOREAN_SENTENCE}\n".encode()),
             (cafeteria, "lunch.md", f"# Lunch\n\n{CAFETERIA_SENTENCE}\n".encode())]
    documents = {name: add_document(SYSTEM, kb, io.BytesIO(data), original_name=name)
                 .document.pk for kb, name, data in files}
    wait_indexed()
    demo = KnowledgeBase.objects.get(slug="citewise-docs")
    return {"documents": documents,
            "chunks": {name: first_chunk(document_id) for name, document_id in documents.items()},
            "knowledge_bases": {kb.slug: {"id": kb.pk, "name": kb.name}
                                for kb in (handbook, hr, cafeteria, demo)}}


def first_chunk(document_id: int) -> int:
    from citewise.knowledge.models import Chunk

    return Chunk.objects.filter(document_id=document_id).order_by("ordinal")[0].pk


def wait_indexed(knowledge_base_id: int | None = None) -> None:
    """Wait until the documents (of one knowledge base, when given) are indexed; exit
    when one failed. Another test's deliberate failures elsewhere on the site are not
    this site's."""
    from citewise.knowledge.models import Document, DocumentStatus

    documents = Document.objects.all()
    if knowledge_base_id is not None:
        documents = documents.filter(knowledge_base_id=knowledge_base_id)
    deadline = time.monotonic() + INDEXED_WITHIN
    while time.monotonic() < deadline:
        waiting = documents.exclude(status__in=[DocumentStatus.INDEXED,
                                                DocumentStatus.FAILED])
        if not waiting.exists():
            failed = list(documents.filter(status=DocumentStatus.FAILED)
                          .values_list("original_name", "error"))
            if failed:
                raise SystemExit(f"documents failed to ingest: {failed}")
            return
        time.sleep(1)
    raise SystemExit(f"documents not indexed within {INDEXED_WITHIN} s")


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")
    sys.path[:0] = ["platform", "."]
    if sys.argv[1:2] != ["populate"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m tests.e2e.site populate PASSWORD")
    print(json.dumps(populate(sys.argv[2]), ensure_ascii=False))
