"""Web pages. Views call citewise services only; heavy libraries are never imported here."""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from citewise.knowledge.permissions import readable_chunk, readable_document
from citewise.knowledge.storage import path_of

if TYPE_CHECKING:
    from citewise.knowledge.models import Chunk

INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
# Passages shown before and after the cited one, for context.
CONTEXT_CHUNKS = 2


def home(request: HttpRequest) -> HttpResponse:
    """Signed-in people live in the chat; the home page is for visitors."""
    if request.user.is_authenticated:
        return redirect("frontend:chat")
    return render(request, "frontend/home.html")


@login_required
def chat(request: HttpRequest) -> HttpResponse:
    # Placeholder until the chat page lands (issue 11).
    return render(request, "frontend/chat/index.html")


@login_required
def source(request: HttpRequest, chunk_id: int) -> HttpResponse:
    """The passage a citation points to, highlighted among its neighbours."""
    chunk = readable_chunk(request.user, chunk_id)
    if chunk is None:
        raise Http404("No such passage")
    neighbours = chunk.document.chunks.filter(
        ordinal__gte=chunk.ordinal - CONTEXT_CHUNKS, ordinal__lte=chunk.ordinal + CONTEXT_CHUNKS)
    return render(request, "frontend/source.html",
                  {"chunk": chunk, "document": chunk.document, "neighbours": neighbours,
                   "cited_page": _cited_page(request, chunk)})


def _cited_page(request: HttpRequest, chunk: Chunk) -> int | None:
    """The page a citation names (?page=, the quoted sentence's page) when it lies
    within the passage; None otherwise, and the passage's page range is shown."""
    try:
        page = int(request.GET.get("page", ""))
    except ValueError:
        return None
    if chunk.page_start is None or not chunk.page_start <= page <= (chunk.page_end or page):
        return None
    return page


@login_required
def original(request: HttpRequest, document_id: int) -> FileResponse:
    document = readable_document(request.user, document_id)
    if document is None or not document.stored_path or not path_of(document.stored_path).exists():
        raise Http404("No such document")
    content_type = mimetypes.guess_type(document.original_name)[0] or "application/octet-stream"
    # An uploaded HTML page shown inline would run its scripts on Citewise's origin: only
    # types a browser displays without running code open inline; the rest download.
    inline = content_type in INLINE_TYPES
    response = FileResponse(path_of(document.stored_path).open("rb"), as_attachment=not inline,
                            filename=document.original_name,
                            content_type=content_type if inline else "application/octet-stream")
    response["Content-Security-Policy"] = "sandbox"
    return response
