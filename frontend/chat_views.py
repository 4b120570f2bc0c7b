"""The chat page: history, asking (streamed over SSE), stopping, feedback.

Views parse the request, call citewise.chat.conversations (which holds the rules and
permission checks) and shape the answer. A conversation or answer that is not the
person's is a 404, the same as one that does not exist.

How the page consumes the stream (frontend/static/frontend/chat.js): it POSTs the
question to `ask` with fetch and reads the response body as SSE:
  start      {stream_id, conversation_id, url, title, created, replaced (the last
             exchange was deleted for Regenerate), history_html (a new conversation's row
             in the sidebar)}: Stop can be sent from now;
  notice     {code, text}: shown above the answer (indexing, LLM fallback);
  text       {text}: a piece of the answer, appended as plain text while it streams;
  not_found  the ask service's refusal (the `done` event's HTML replaces it);
  citation   one verified source;
  error      {code, message, text}: `text` is the page-language sentence for `code`;
  done       the stored answer (AskResult.as_json()) plus `html`: the message as the page
             renders it after a reload (sanitised Markdown with citation chips, sources,
             feedback controls), which replaces the streamed text. A stopped or failed
             answer gets a `done` too ({message_id, stopped, error_code, html}) when the
             stream is still open: a failed one is stored with its error code.
Lines starting with ":" are heartbeats.
"""

from __future__ import annotations

import json
import logging
import secrets
from functools import partial

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from citewise.chat import conversations
from citewise.chat.events import EventType
from citewise.chat.models import Rating
from citewise.chat.streaming import HEARTBEAT, EventPump, sse
from frontend import answers
from frontend.chat_messages import error_sentence, js_strings

logger = logging.getLogger(__name__)


@login_required
def chat(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    conversation = None
    if conversation_id is not None:
        conversation = conversations.conversation_of(request.user, conversation_id)
        if conversation is None:
            raise Http404("No such conversation")
    picker = conversations.picker(request.user, conversation)
    return render(request, "frontend/chat/index.html", {
        "conversation": conversation,
        "conversations": conversations.conversations_of(request.user),
        "messages": (answers.conversation_messages(request.user, conversation)
                     if conversation else []),
        "picker": picker,
        "picked_names": [choice.knowledge_base.name for choice in picker if choice.chosen],
        "strings": json.dumps(js_strings(), ensure_ascii=False),
    })


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversations.rename(request.user, conversation_id,
                                        request.POST.get("title", ""))
    if conversation is None:
        raise Http404("No such conversation")
    if _wants_json(request):
        return JsonResponse({"id": conversation.pk, "title": conversation.title})
    return _back(request, reverse("frontend:conversation", args=[conversation.pk]))


@login_required
@require_POST
def delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    if not conversations.delete(request.user, conversation_id):
        raise Http404("No such conversation")
    if _wants_json(request):
        return JsonResponse({"id": conversation_id, "deleted": True})
    # #question: chat.js puts the focus in the composer of the new conversation.
    return _back(request, reverse("frontend:chat") + "#question")


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """After renaming or deleting from the history, back to the conversation being read
    (the form's `next`, one of this site's paths), else to `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


@login_required
@require_POST
def feedback(request: HttpRequest, message_id: int) -> HttpResponse:
    rating = request.POST.get("rating", "")
    if rating not in Rating.values:
        return JsonResponse({"code": "invalid_rating", "message": _("Choose helpful or not "
                                                                    "helpful.")}, status=400)
    given = conversations.give_feedback(request.user, message_id, rating,
                                        request.POST.get("comment", ""))
    if given is None:
        raise Http404("No such answer")
    if _wants_json(request):
        return JsonResponse({"message_id": message_id, "rating": given.rating,
                             "comment": given.comment, "text": _("Thank you for your feedback.")})
    return HttpResponseRedirect(reverse("frontend:conversation",
                                        args=[given.message.conversation_id])
                                + f"#message-{message_id}")


@login_required
@require_POST
def stop(request: HttpRequest) -> HttpResponse:
    stream_id = request.POST.get("stream_id", "")
    if not stream_id:
        return JsonResponse({"code": "no_stream", "message": "stream_id is required"}, status=400)
    conversations.request_stop(request.user, stream_id)
    return HttpResponse(status=204)


def _problem(code: str, message: str, status: int, **extra: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _ids(values: list[str]) -> list[int] | None:
    try:
        return [int(value) for value in values]
    except ValueError:
        return None


async def ask(request: HttpRequest) -> HttpResponse:
    """POST question, knowledge_base (repeated), conversation (optional), replace (optional:
    the conversation's last answer, which Regenerate asks again): the answer as SSE.
    Problems a person can fix come back as JSON with a status before any stream: 401
    signed out, 400 empty question, 403 no access, 404 not their conversation."""
    if request.method != "POST":
        return _problem("method_not_allowed", "POST a question", 405)
    user = await request.auser()
    if not user.is_authenticated:
        return _problem("signed_out", _("Your session has ended. Sign in again to go on."),
                        401, login_url=_login_url())
    ids = _ids(request.POST.getlist("knowledge_base"))
    conversation_id = _ids([request.POST["conversation"]] if request.POST.get("conversation")
                           else [])
    replacing = _ids([request.POST["replace"]] if request.POST.get("replace") else [])
    if ids is None or conversation_id is None or replacing is None:
        return _problem("bad_request", "knowledge_base, conversation and replace are ids", 400)
    try:
        prepared = await sync_to_async(conversations.prepare_answer)(
            user, request.POST.get("question", ""), knowledge_base_ids=ids,
            conversation_id=conversation_id[0] if conversation_id else None,
            replacing=replacing[0] if replacing else None)
    except ValueError:
        return _problem("empty_question", _("Type a question first."), 400)
    except PermissionDenied:
        return _problem("no_access", _("You may not read these knowledge bases. Ask your "
                                       "administrator for access."), 403)
    if prepared is None:
        return _problem("not_found", _("This conversation does not exist."), 404)
    response = StreamingHttpResponse(
        _answer_stream(request, user, prepared, request.LANGUAGE_CODE),
        content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response


def _login_url() -> str:
    from django.conf import settings
    from django.shortcuts import resolve_url

    return resolve_url(settings.LOGIN_URL) + "?next=" + reverse("frontend:chat")


def _history_item_html(request: HttpRequest, conversation, language: str) -> str:
    """A new conversation's row in the history sidebar, as the page renders it."""
    with translation.override(language):
        return render_to_string("frontend/chat/_conversation.html",
                                {"item": conversation, "conversation": conversation},
                                request=request)


def _message_html(request: HttpRequest, user, message_id: int, language: str) -> str:
    with translation.override(language):
        message = conversations.answer_of(user, message_id)
        item = answers.shown(user, message, question=conversations.question_of(message))
        item.is_last_answer = True
        return render_to_string("frontend/chat/_message.html", {"item": item}, request=request)


async def _answer_stream(request: HttpRequest, user, prepared: conversations.PreparedAnswer,
                         language: str):
    stream_id = secrets.token_urlsafe(12)
    conversation = prepared.conversation
    pump = EventPump(prepared.events,
                     stop_requested=partial(conversations.stop_requested, user, stream_id))
    done = failed = False
    start = {"stream_id": stream_id, "conversation_id": conversation.pk,
             "url": reverse("frontend:conversation", args=[conversation.pk]),
             "title": conversation.title, "created": prepared.created,
             "replaced": prepared.replaced}
    if prepared.created:
        start["history_html"] = await sync_to_async(_history_item_html)(request, conversation,
                                                                        language)
    yield sse("start", start)
    with translation.override(language):
        for kb in prepared.indexing:
            yield sse("notice", {"code": "indexing", "text": _(
                "Some documents of %(name)s are still being indexed; this answer may miss "
                "them.") % {"name": kb.name}})
    try:
        async for event in pump.events():
            if event is None:
                yield HEARTBEAT
            elif event.type == EventType.DONE:
                html = await sync_to_async(_message_html)(request, user, event.message_id,
                                                          language)
                done = True
                yield sse("done", {**event.as_json(), "html": html})
            elif event.type == EventType.ERROR:
                failed = True
                with translation.override(language):
                    yield sse("error", {**event.as_json(), "text": error_sentence(event.code)})
            else:
                yield sse(event.type, event.as_json())
    except Exception:
        logger.exception("the answer stream failed")
        failed = True
        with translation.override(language):
            yield sse("error", {"code": "failed", "message": "the answer stream failed",
                                "text": error_sentence("failed")})
    finally:
        pump.stop()
    if not done:
        # Stopped with the connection still open (Stop by request), or failed: show what
        # was stored, or leave no empty conversation behind.
        await pump.finished()
        yield await sync_to_async(_after_stop)(request, user, prepared, language,
                                               failed=failed)


def _after_stop(request: HttpRequest, user, prepared: conversations.PreparedAnswer,
                language: str, *, failed: bool) -> bytes:
    answer = conversations.answer_after(prepared.conversation, prepared.before)
    if answer is None:
        if prepared.created:
            conversations.discard_if_empty(prepared.conversation)
        return sse("end", {"failed": failed})
    return sse("done", {"message_id": answer.pk, "conversation_id": answer.conversation_id,
                        "stopped": answer.stopped, "not_found": answer.not_found,
                        "error_code": answer.error_code,
                        "html": _message_html(request, user, answer.pk, language)})
