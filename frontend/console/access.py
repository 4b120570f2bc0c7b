"""Who may open console pages, asked of the permission service. A knowledge base the
person may not edit is a 404 (as if it did not exist), never a 403 that confirms it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import editable_knowledge_bases, is_admin, may_use_console

View = Callable[..., HttpResponse]


def console_view(view: View) -> View:
    """Signed in, and an admin or the editor of at least one knowledge base."""
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_use_console(request.user):
            raise PermissionDenied("The console is for admins and editors of knowledge bases.")
        return view(request, *args, **kwargs)

    return guarded


def admin_view(view: View) -> View:
    """Admins only (access, the audit log, creating knowledge bases)."""
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("Only administrators may do this.")
        return view(request, *args, **kwargs)

    return guarded


def editable_or_404(request: HttpRequest, slug: str) -> KnowledgeBase:
    """The knowledge base if the person may edit it; 404 otherwise."""
    kb = editable_knowledge_bases(request.user).filter(slug=slug).first()
    if kb is None:
        raise Http404("No such knowledge base")
    return kb
