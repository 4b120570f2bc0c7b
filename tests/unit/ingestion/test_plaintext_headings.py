"""Headings people type in text files reach the heading path and are never glued to the
sentence after them: Korean rules ("제1장", "제3조(목적) 이 규정은 ..."), underlined and
numbered English titles, short title lines."""

from __future__ import annotations

from pathlib import Path

from ingestion.chunker import chunk_document
from ingestion.parse import parse_document
from textproc.sentences import split_sentences

RULES_KO = """사내 복무 규정

제1장 총칙
제1조(목적) 이 규정은 회사 직원의 복무에 관한 사항을 정함을 목적으로 한다.
제2조(적용 범위) 이 규정은 모든 정규직 직원에게 적용된다.

제2장 근무
제3조(근무 시간)
근무 시간은 오전 9시부터 오후 6시까지로 한다.

연차 휴가
직원은 입사 1년 후 15일의 연차 휴가를 받는다. 휴가 신청은 최소 3일 전에 팀장에게 제출해야 한다.

이월 절차는
제2장에서 정한 바와 같다.
"""

GUIDE_EN = """Remote Access Guide
===================

1. Overview
This guide explains how employees connect to the office network from home
and what to do when the connection fails.

1.1 Requirements
You need a company laptop with the VPN client installed.

Steps to connect:
1. Open the client.
2. Choose the office profile.

Troubleshooting
---------------
Restart the client when the tunnel
shows no handshake.

Short first line
that wraps and continues the sentence here.

Submit the claim within
3 days of purchase and attach the receipt.
"""


def parse(tmp_path: Path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    return parse_document(path, path.name)


def by_text(doc) -> dict:
    return {block.text: block for block in doc.blocks}


def test_korean_chapter_and_article_titles_are_headings_not_sentence_starts(tmp_path: Path):
    doc = parse(tmp_path, RULES_KO, "cp949")
    assert doc.title == "사내 복무 규정"
    blocks = by_text(doc)
    purpose = blocks["이 규정은 회사 직원의 복무에 관한 사항을 정함을 목적으로 한다."]
    assert purpose.heading_path == ("사내 복무 규정", "제1장 총칙", "제1조(목적)")
    hours = blocks["근무 시간은 오전 9시부터 오후 6시까지로 한다."]
    assert hours.heading_path == ("사내 복무 규정", "제2장 근무", "제3조(근무 시간)")
    leave = blocks["직원은 입사 1년 후 15일의 연차 휴가를 받는다. 휴가 신청은 최소 3일 전에 "
                   "팀장에게 제출해야 한다."]
    assert leave.heading_path[-1] == "연차 휴가"
    # A wrapped sentence is neither a title nor a chapter reference turned heading.
    assert "이월 절차는 제2장에서 정한 바와 같다." in blocks
    assert [b.text for b in doc.blocks if b.kind == "heading"] == [
        "사내 복무 규정", "제1장 총칙", "제1조(목적)", "제2조(적용 범위)", "제2장 근무",
        "제3조(근무 시간)", "연차 휴가"]


def test_no_quoted_sentence_starts_with_a_heading(tmp_path: Path):
    """What a citation quotes is a sentence of a chunk: none may begin with a title."""
    doc = parse(tmp_path, RULES_KO)
    titles = [b.text for b in doc.blocks if b.kind == "heading"]
    for chunk in chunk_document(doc, lambda text: len(text.split()), max_tokens=40):
        for paragraph in chunk.text.split("\n\n"):
            if paragraph in titles:
                continue
            for sentence in split_sentences(paragraph):
                assert not any(sentence.startswith(title) for title in titles), sentence


def test_underlined_numbered_and_short_titles_in_english(tmp_path: Path):
    doc = parse(tmp_path, GUIDE_EN)
    assert doc.title == "Remote Access Guide"
    blocks = by_text(doc)
    assert blocks["You need a company laptop with the VPN client installed."].heading_path == (
        "Remote Access Guide", "1. Overview", "1.1 Requirements")
    restart = blocks["Restart the client when the tunnel shows no handshake."]
    assert restart.heading_path[-1] == "Troubleshooting"
    # A numbered list is not a run of headings, and a hard-wrapped sentence whose next
    # line continues in lower case is not a title over it.
    steps = [(b.kind, b.text) for b in doc.blocks if b.heading_path[-1] == "1.1 Requirements"]
    assert steps[-3:] == [("paragraph", "Steps to connect:"), ("list", "1. Open the client."),
                          ("list", "2. Choose the office profile.")]
    assert "Short first line that wraps and continues the sentence here." in blocks
    assert "Submit the claim within 3 days of purchase and attach the receipt." in blocks


def test_paragraphs_without_titles_stay_paragraphs(tmp_path: Path):
    doc = parse(tmp_path, "Passwords expire every 90 days.\nReset yours in the portal.\n\n"
                          "The helpdesk answers within one day.")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("paragraph", "Passwords expire every 90 days. Reset yours in the portal."),
        ("paragraph", "The helpdesk answers within one day.")]
    assert doc.title is None
