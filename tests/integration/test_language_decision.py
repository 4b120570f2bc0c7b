"""Knowledge bases created without a language take it from their documents: the model
that reads them, passages sized for it, and a re-embedding when later documents change
the picture, with the old index answering until the swap."""

from __future__ import annotations

import json
import re
from io import BytesIO, StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command

from citewise.knowledge import indexing, languages, tasks
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from tests.integration.test_ingestion import LEAVE_POLICY_KO, VPN_GUIDE

pytestmark = pytest.mark.django_db(transaction=True)

# A Korean FAQ page as intranet exports write it: one section per question.
KOREAN_FAQ_HTML = """<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>사내 IT 지원 자주 묻는 질문</title></head>
<body><main>
<h1>사내 IT 지원 자주 묻는 질문</h1>
<h2>VPN에 접속하려면 어떻게 해야 하나요?</h2>
<p>회사 밖에서 사내 시스템을 사용하려면 먼저 VPN에 접속해야 합니다. 노트북에 설치된 WireGuard
프로그램을 실행한 뒤 IT 지원팀이 메일로 보내 드린 설정 파일을 가져오기 하세요. 설정 파일은 개인별로
발급되므로 다른 사람과 공유하면 안 됩니다. 접속 버튼을 누르고 화면 오른쪽 아래의 아이콘이 초록색으로
바뀌면 연결된 것입니다. 연결이 되지 않으면 먼저 인터넷 연결을 확인하고, 호텔이나 카페처럼 방화벽이
있는 곳에서는 휴대폰 테더링으로 다시 시도해 보세요. 그래도 접속되지 않으면 오류 화면을 캡처하여
헬프데스크에 티켓을 등록하시면 담당자가 근무 시간 안에 연락드립니다. 재무 공유 폴더와 인사 시스템은
VPN에 연결된 상태에서만 열립니다.</p>
<h2>비밀번호는 얼마나 자주 바꿔야 하나요?</h2>
<p>사내 계정의 비밀번호는 90일마다 만료되며, 만료 14일 전부터 로그인할 때 변경 안내가 표시됩니다.
새 비밀번호는 12자 이상이어야 하고 영문 대문자, 소문자, 숫자, 특수문자 가운데 세 종류 이상을 섞어야
합니다. 최근에 사용한 다섯 개의 비밀번호는 다시 쓸 수 없습니다. 비밀번호를 잊어버렸다면 셀프서비스
포털에서 휴대폰 인증을 거쳐 직접 재설정할 수 있으며, 다섯 번 연속으로 틀리면 계정이 30분 동안
잠깁니다. 잠긴 계정을 바로 풀어야 한다면 헬프데스크에 전화하여 본인 확인을 받으세요. 비밀번호를
메모지에 적어 모니터에 붙여 두는 일은 보안 점검에서 위반으로 기록됩니다.</p>
<h2>노트북을 잃어버렸을 때는 어떻게 하나요?</h2>
<p>회사 노트북을 잃어버리거나 도난당했다면 즉시 보안팀에 신고해야 합니다. 신고를 받으면 보안팀은
원격으로 노트북을 잠그고 저장된 데이터를 삭제합니다. 모든 회사 노트북의 디스크는 암호화되어 있지만,
신고가 늦어질수록 계정이 도용될 위험이 커지므로 발견한 즉시 알려 주세요. 경찰서에 분실 신고를 한
경우에는 접수 번호를 함께 알려 주시면 보험 처리에 사용됩니다. 대체 노트북은 재고가 있으면 다음
근무일에 지급되며, 업무 자료는 클라우드 드라이브에서 다시 내려받을 수 있습니다. 개인적으로 설치한
프로그램은 복구되지 않으니 평소에 설치 목록을 정리해 두는 것이 좋습니다.</p>
</main></body></html>
"""

TRAVEL_POLICY_KO = """출장비 정산 규정

국내 출장의 교통비와 숙박비는 출장에서 돌아온 뒤 2주 안에 경비 시스템에서 정산한다. 영수증은
사진으로 찍어 첨부하고 원본은 3개월 동안 보관한다. 숙박비는 1박에 12만 원까지 지원하며, 이를 넘는
금액은 팀장의 사전 승인이 있어야 한다. 해외 출장은 출발 2주 전까지 출장 계획서를 제출해야 한다.
"""


def run_ingest(*args: str) -> dict:
    out = StringIO()
    call_command("ingest", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def top_result(query: str, slug: str) -> dict:
    out = StringIO()
    call_command("search", query, "--kb", slug, "--json", stdout=out)
    return json.loads(out.getvalue())["results"][0]


def top_document(query: str, slug: str) -> str:
    return top_result(query, slug)["document"]


def test_korean_html_in_a_knowledge_base_created_without_a_language(tmp_path):
    (tmp_path / "it-faq.html").write_text(KOREAN_FAQ_HTML, encoding="utf-8")
    summary = run_ingest(str(tmp_path), "--kb", "it-ko", "--create", "--sync")
    assert summary["indexed"] == 1

    kb = KnowledgeBase.objects.get(slug="it-ko")
    assert (kb.language, kb.detected_language) == ("auto", "ko")
    assert kb.embedding_model == settings.EMBEDDING_MODEL_KOREAN
    # The command says what it chose and why.
    reason = summary["language"]["reason"]
    assert reason.startswith("auto: Korean (100% of ")
    assert f"-> model {settings.EMBEDDING_MODEL_KOREAN}, chunk budget " in reason
    # Passages hold a whole answer (the English model cut them at ~240 characters).
    longest = max(len(text) for text in kb.chunks.values_list("text", flat=True))
    assert longest > 400
    # A Korean question finds the section that answers it, whole.
    best = top_result("노트북을 분실하면 어떻게 신고하나요?", "it-ko")["text"]
    assert "원격으로 노트북을 잠그고" in best and "보험 처리에 사용됩니다" in best


def test_a_folder_that_turns_out_mixed_is_re_embedded_and_answers_both_languages(tmp_path):
    (tmp_path / "a-vpn.md").write_text(VPN_GUIDE, encoding="utf-8")  # decides first
    (tmp_path / "b-leave-ko.txt").write_text(LEAVE_POLICY_KO, encoding="utf-8")
    (tmp_path / "c-travel-ko.txt").write_text(TRAVEL_POLICY_KO, encoding="utf-8")
    summary = run_ingest(str(tmp_path), "--kb", "handbook", "--create", "--sync")
    assert summary["indexed"] == 3

    language = summary["language"]
    assert language["detected"] == "mixed"
    assert language["embedding_model"] == settings.EMBEDDING_MODEL_KOREAN
    assert language["pending_embedding_model"] == ""
    assert re.match(r"auto: mixed \(English \d+%, Korean \d+% of [\d,]+ sampled characters "
                    r"in 3 documents\) -> model ", language["reason"])
    assert top_document("연차 이월", "handbook") == "b-leave-ko.txt"
    assert top_document("출장 숙박비 한도", "handbook") == "c-travel-ko.txt"
    assert top_document("How often do passwords expire?", "handbook") == "a-vpn.md"


def add_and_ingest(kb: KnowledgeBase, name: str, text: str) -> None:
    document = add_document(SYSTEM, kb, BytesIO(text.encode()), original_name=name,
                            enqueue=False).document
    ingest(document.pk)


def test_an_english_knowledge_base_that_becomes_korean_keeps_answering_while_re_embedded(
        tmp_path):
    (tmp_path / "vpn.md").write_text(VPN_GUIDE, encoding="utf-8")
    run_ingest(str(tmp_path), "--kb", "it", "--create", "--sync")
    kb = KnowledgeBase.objects.get(slug="it")
    assert (kb.detected_language, kb.embedding_model) == ("en", settings.EMBEDDING_MODEL)

    with mock.patch.object(tasks.reembed_knowledge_base, "delay_on_commit") as enqueue:
        add_and_ingest(kb, "leave-ko.txt", LEAVE_POLICY_KO)
        add_and_ingest(kb, "travel-ko.txt", TRAVEL_POLICY_KO)
    kb.refresh_from_db()
    enqueue.assert_called_once_with(kb.pk)  # one re-embedding, however many documents
    assert kb.pending_embedding_model == settings.EMBEDDING_MODEL_KOREAN
    assert kb.embedding_model == settings.EMBEDDING_MODEL  # until the swap
    assert "re-embedding into" in languages.summary(kb)

    # Half-way (new vectors stored beside the old ones), the old index still answers.
    indexing.embed_next(kb, kb.pending_embedding_model)
    assert top_document("How often do passwords expire?", "it") == "vpn.md"

    result = tasks.reembed_knowledge_base.apply(args=[kb.pk]).get()
    assert result["status"] == "swapped" and result["chunks"] == kb.chunks.count()
    kb.refresh_from_db()
    assert (kb.embedding_model, kb.pending_embedding_model) == (
        settings.EMBEDDING_MODEL_KOREAN, "")
    assert indexing.vector_store().manifest(kb.index_key)["model"] == kb.embedding_model
    assert top_document("출장 숙박비 한도", "it") == "travel-ko.txt"
    assert top_document("How often do passwords expire?", "it") == "vpn.md"
    # Running it again (a redelivered task) does nothing.
    assert tasks.reembed_knowledge_base.apply(args=[kb.pk]).get()["status"] == "nothing to do"


def test_the_swap_waits_for_documents_still_being_ingested(tmp_path):
    (tmp_path / "vpn.md").write_text(VPN_GUIDE, encoding="utf-8")
    run_ingest(str(tmp_path), "--kb", "it", "--create", "--sync")
    kb = KnowledgeBase.objects.get(slug="it")
    with mock.patch.object(tasks.reembed_knowledge_base, "delay_on_commit"):
        add_and_ingest(kb, "leave-ko.txt", LEAVE_POLICY_KO)
        add_document(SYSTEM, kb, BytesIO(TRAVEL_POLICY_KO.encode()), original_name="travel-ko.txt",
                     enqueue=False)  # queued, not yet ingested
    with pytest.raises(languages.KnowledgeBaseBusy):
        languages.reembed(kb.pk)
    kb.refresh_from_db()
    assert kb.embedding_model == settings.EMBEDDING_MODEL
    assert top_document("How often do passwords expire?", "it") == "vpn.md"


def test_a_model_named_by_an_admin_is_kept(tmp_path):
    from citewise.knowledge.services import create_knowledge_base

    create_knowledge_base(SYSTEM, name="IT", slug="it", embedding_model=settings.EMBEDDING_MODEL,
                          language="en")
    (tmp_path / "leave-ko.txt").write_text(LEAVE_POLICY_KO, encoding="utf-8")
    run_ingest(str(tmp_path), "--kb", "it", "--sync")
    kb = KnowledgeBase.objects.get(slug="it")
    assert (kb.embedding_model, kb.detected_language) == (settings.EMBEDDING_MODEL, "")
    assert languages.summary(kb).startswith("English (set at creation)")


def test_the_admin_form_starts_on_auto_and_the_page_shows_what_auto_chose(client):
    from tests.factories import make_user

    client.force_login(make_user("root", superuser=True))
    form = client.get("/admin/knowledge/knowledgebase/add/").content.decode()
    assert '<option value="auto" selected>Detect from the documents</option>' in form
    response = client.post("/admin/knowledge/knowledgebase/add/", {
        "name": "IT", "slug": "it", "description": "", "language": "auto",
        "embedding_model": "", "query_prefix": "", "passage_prefix": "",
        "answer_backend": "", "instructions": "",
        "answer_examples-TOTAL_FORMS": "0", "answer_examples-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    kb = KnowledgeBase.objects.get(slug="it")
    page = client.get(f"/admin/knowledge/knowledgebase/{kb.pk}/change/").content.decode()
    assert "auto: the first document with text decides" in page
    # Before any document, the English default is not presented as the decided model.
    overview = client.get(f"/console/knowledge-bases/{kb.slug}/").content.decode()
    assert "until the first document shows the language" in overview
    overview = client.get(f"/console/knowledge-bases/{kb.slug}/",
                          HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "첫 문서로 언어가 정해지기 전까지" in overview

    add_and_ingest(kb, "it-faq.html", KOREAN_FAQ_HTML)
    page = client.get(f"/admin/knowledge/knowledgebase/{kb.pk}/change/").content.decode()
    assert "auto: Korean (100% of " in page
    # The console names the detected language as a reader says it, in the page's language.
    overview = client.get(f"/console/knowledge-bases/{kb.slug}/").content.decode()
    assert "Detect from the documents (detected: Korean)" in overview
    assert "until the first document shows the language" not in overview
    overview = client.get(f"/console/knowledge-bases/{kb.slug}/",
                          HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "(알아낸 언어: 한국어)" in overview
    assert f"model {settings.EMBEDDING_MODEL_KOREAN}, chunk budget" in page
    listing = client.get("/admin/knowledge/knowledgebase/").content.decode()
    assert "auto: Korean" in listing


def test_the_re_embedding_waits_behind_the_queued_documents_in_the_ingestion_queue():
    from citewise.celery import INGEST_QUEUE, app

    route = app.amqp.router.route({}, tasks.reembed_knowledge_base.name)
    assert route["queue"].name == INGEST_QUEUE


def test_documents_indexed_before_languages_were_identified_count_from_their_passages(
        tmp_path):
    (tmp_path / "vpn.md").write_text(VPN_GUIDE, encoding="utf-8")
    run_ingest(str(tmp_path), "--kb", "it", "--create", "--sync")
    kb = KnowledgeBase.objects.get(slug="it")
    kb.documents.update(language_profile={})  # as a database from before this release
    with mock.patch.object(tasks.reembed_knowledge_base, "delay_on_commit"):
        add_and_ingest(kb, "leave-ko.txt", LEAVE_POLICY_KO)
    kb.refresh_from_db()
    assert kb.language_reason.startswith("auto: mixed (English ")
    assert "in 2 documents" in kb.language_reason
