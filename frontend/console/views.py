"""Console pages: the knowledge bases list (more pages live beside it, one module each)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from citewise.knowledge.permissions import editable_knowledge_bases, is_admin
from frontend.console.access import console_view


@console_view
def index(request: HttpRequest) -> HttpResponse:
    """The knowledge bases this person may edit (all of them for an admin)."""
    kbs = editable_knowledge_bases(request.user).order_by("name")
    return render(request, "frontend/console/index.html",
                  {"knowledge_bases": kbs, "is_admin": is_admin(request.user)})
