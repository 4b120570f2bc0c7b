"""Parsing is bounded (issue 10, "What was seen" 9 and "Must work" 8): a file that needs
more time or memory than the per-document limits fails alone, with a reason and a code."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from ingestion.bounded import ParseLimits, parse_bounded, run_bounded
from ingestion.errors import (
    EmptyDocument,
    ParseMemoryLimit,
    ParserCrashed,
    ParseTimeLimit,
    TooLarge,
)
from ingestion.parse import parse_document

CASE = Path(__file__).parents[2] / "data" / "cases" / "10-pdf-blank-page-citation"
MB = 1024 * 1024


def test_a_bounded_parse_reads_what_the_parser_reads():
    path = CASE / "building-guide.pdf"
    bounded = parse_bounded(path, path.name)
    assert bounded.blocks == parse_document(path, path.name).blocks
    assert bounded.page_count == 4


def test_bad_input_fails_with_the_parsers_reason_and_code(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDocument, match="empty") as failed:
        parse_bounded(empty, empty.name)
    assert failed.value.code == "empty"


def test_a_file_needing_more_memory_than_the_limit_fails_alone(tmp_path: Path):
    big = tmp_path / "big.txt"
    big.write_text(("Each line of this log repeats the same words again. " * 20 + "\n\n")
                   * 80_000)  # 80 MB
    with pytest.raises(ParseMemoryLimit) as failed:
        parse_bounded(big, big.name, limits=ParseLimits(memory_bytes=256 * MB))
    assert failed.value.code == "parse_memory_limit"
    assert "memory" in failed.value.message


def test_a_parse_past_the_deadline_is_stopped_with_the_time_limit_reason(tmp_path: Path):
    # About a second of parsing: a small file, read by a child whose readers are already
    # loaded, can finish inside any deadline short enough to test.
    path = tmp_path / "long.txt"
    path.write_text(("Passwords expire every ninety days and are reset in the portal. " * 12
                     + "\n\n") * 6000)
    began = time.monotonic()
    with pytest.raises(ParseTimeLimit, match="limit per document") as failed:
        parse_bounded(path, path.name, limits=ParseLimits(seconds=0.2))
    assert failed.value.code == "parse_time_limit"
    assert time.monotonic() - began < 5


def test_deeply_nested_html_ends_within_the_time_limit(tmp_path: Path):
    """The 2 MB page of nested elements that kept a CPU busy for minutes: it is read,
    refused at once for its depth, or stopped, within the limit, any way."""
    depth = 100_000
    nested = tmp_path / "nested.html"
    nested.write_text("<html><body>" + "<div><span>x " * depth + "deep text."
                      + "</span></div>" * depth + "</body></html>")
    began = time.monotonic()
    try:
        parse_bounded(nested, nested.name, limits=ParseLimits(seconds=3))
    except ParseTimeLimit as stopped:
        assert stopped.code == "parse_time_limit"
    except TooLarge as refused:
        # The HTML parser refuses markup nested past libxml2's 256 levels before reading.
        assert refused.code == "too_large" and "256 levels deep" in refused.message
    assert time.monotonic() - began < 3 + 5


def test_the_wait_beats_while_the_child_works_and_kills_it_at_the_deadline(monkeypatch):
    """The worker renews its lease on each heartbeat, so a long parse (OCR of a long
    scan) is not taken for a dead worker; at the deadline the child and what it started
    are killed."""
    from ingestion import bounded

    monkeypatch.setattr(bounded, "HEARTBEAT_SECONDS", 0.2)
    beats: list[float] = []
    assert bounded.run_bounded(time.sleep, (1.5,), limits=ParseLimits(seconds=10),
                               heartbeat=lambda: beats.append(time.monotonic())) is None
    assert len(beats) >= 4
    began = time.monotonic()
    started = Path(tempfile.mkdtemp()) / "started"
    # The child starts a grandchild (as OCR does) that would outlive it and write a file.
    script = f"sleep 1; touch {started}"
    with pytest.raises(ParseTimeLimit):
        bounded.run_bounded(os.system, (f"sh -c '{script}' & wait",),
                            limits=ParseLimits(seconds=0.5))
    assert time.monotonic() - began < 5
    time.sleep(1.5)
    assert not started.exists()


def test_a_parse_that_dies_fails_as_a_crashed_parser():
    """A child killed mid-parse (the OOM killer, a crashing library): ParserCrashed with
    its exit status, and the next parse works."""
    with pytest.raises(ParserCrashed, match="stopped unexpectedly") as crashed:
        run_bounded(os.kill, (0, signal.SIGKILL), limits=ParseLimits())
    assert crashed.value.code == "parser_crashed" and "-9" in crashed.value.message
    path = CASE / "building-guide.pdf"
    assert parse_bounded(path, path.name).page_count == 4
