"""Web pages. Views call citewise services only; heavy libraries are never imported here."""

from __future__ import annotations

import mimetypes
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from citewise.knowledge.permissions import readable_chunk, readable_document
from citewise.knowledge.storage import open_original, original_exists
from citewise.knowledge.viewer import page_image as page_image_of
from citewise.knowledge.viewer import source_view

INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})


def home(request: HttpRequest) -> HttpResponse:
    """Signed-in people live in the chat; the home page is for visitors."""
    if request.user.is_authenticated:
        return redirect("frontend:chat")
    return render(request, "frontend/home.html")


@login_required
def source(request: HttpRequest, chunk_id: int) -> HttpResponse:
    """The passage a citation points to: its PDF page with the passage's boxes, or the
    text around it, highlighted; ?page= picks the PDF page, ?quote= the quoted sentence."""
    chunk = readable_chunk(request.user, chunk_id)
    if chunk is None:
        raise Http404("No such passage")
    view = source_view(chunk, page=_page_number(request), quote=request.GET.get("quote", ""))
    if view is None:
        raise Http404("No such page")
    return render(request, "frontend/source.html", {"view": view})


def _page_number(request: HttpRequest) -> int | None:
    try:
        return int(request.GET.get("page", ""))
    except ValueError:
        return None


@login_required
def page_image(request: HttpRequest, chunk_id: int, page: int) -> FileResponse:
    """A page of a cited PDF as a PNG, for readers of the passage's knowledge base."""
    chunk = readable_chunk(request.user, chunk_id)
    image = page_image_of(chunk.document, page) if chunk is not None else None
    if image is None:
        raise Http404("No such page")
    response = FileResponse(image.open("rb"), content_type="image/png")
    # Only this user's browser may keep it: another user may not read the document.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def original(request: HttpRequest, document_id: int) -> FileResponse:
    document = readable_document(request.user, document_id)
    if document is None or not original_exists(document.stored_path):
        raise Http404("No such document")
    content_type = mimetypes.guess_type(document.original_name)[0] or "application/octet-stream"
    # An uploaded HTML page shown inline would run its scripts on Citewise's origin: only
    # types a browser displays without running code open inline; the rest download.
    inline = content_type in INLINE_TYPES
    response = FileResponse(open_original(document.stored_path), as_attachment=not inline,
                            filename=document.original_name,
                            content_type=content_type if inline else "application/octet-stream")
    response["Content-Security-Policy"] = "sandbox"
    return response


def signin_locked_out(request: HttpRequest, _response: Any = None, _credentials: Any = None,
                      ) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE), for the sign-in page and the
    admin's: the sign-in page again, 429, saying why and for how long (Retry-After in
    seconds). The name typed stays in the form; the password does not."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(request, "frontend/accounts/login.html",
                      {"form": form, "locked_out_minutes": minutes}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
