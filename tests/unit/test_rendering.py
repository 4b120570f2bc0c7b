"""Answers render as safe HTML: nothing in them can run, load or escape its element."""

from __future__ import annotations

import lxml.html
import pytest
from django.utils import translation

from frontend.rendering import citation_chips, render_answer

HOSTILE = """\
<script>alert("x")</script>

<img src="http://attacker.example/pixel.png" onerror="alert(1)">

![diagram](http://attacker.example/diagram.png) [click](javascript:alert(1))
[data](data:text/html;base64,PHNjcmlwdD4=) <a href="javascript:alert(2)">raw</a>

<iframe src="http://attacker.example"></iframe><style>body{display:none}</style>
"""

SOURCES = {
    1: {"url": "/sources/7/?page=3", "title": "Travel policy", "page": 3,
        "heading_path": ["Travel", "Per diem"], "snippet": "The daily allowance is 80,000 won.",
        "supported": True},
    2: {"url": "/sources/8/", "title": "Meals", "snippet": "Lunch is provided.",
        "supported": False},
}


@pytest.fixture(autouse=True)
def english():
    # A request handled earlier in this thread may have left another language active.
    with translation.override("en"):
        yield


def elements(html: str):
    return list(lxml.html.fragment_fromstring(html, create_parent="div").iter())


def assert_inert(html: str) -> None:
    """No element that runs or loads anything, no handler, no link off the allowed schemes."""
    for element in elements(html):
        assert element.tag not in {"script", "img", "iframe", "style", "object"}, html
        assert not [name for name in element.attrib if name.startswith("on") or name == "style"]
        href = element.get("href")
        if href is not None:
            assert href.startswith(("/", "http://", "https://", "mailto:", "#")), href


def chips(html: str):
    return [element for element in elements(html) if "cite" in element.get("class", "").split()]


def test_markdown_becomes_html():
    html = render_answer("# Policy\n\n- **80,000 won** a day\n- `code`\n\n"
                         "| a | b |\n|---|---|\n| 1 | 2 |")
    tags = {element.tag for element in elements(html)}
    assert {"h1", "ul", "li", "strong", "code", "table", "th", "td"} <= tags


def test_hostile_text_is_shown_not_run():
    html = render_answer(HOSTILE)
    assert_inert(html)
    text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    assert '<script>alert("x")</script>' in text  # the reader sees what the text said
    assert "diagram" in text  # an image is reduced to its description, nothing loads
    assert [a.get("href") for a in elements(html) if a.tag == "a"] == []


def test_links_are_kept_with_a_safe_rel():
    html = render_answer("See [the guide](https://docs.example/guide) or <mailto:hr@example.com>.")
    links = [element for element in elements(html) if element.tag == "a"]
    assert [link.get("href") for link in links] == ["https://docs.example/guide",
                                                     "mailto:hr@example.com"]
    assert {link.get("rel") for link in links} == {"noopener noreferrer nofollow"}


def test_markers_survive_rendering_and_become_chips():
    html = citation_chips(render_answer("The allowance is 80,000 won [1] unless stated [1, 2]."),
                          SOURCES)
    found = chips(html)
    assert [chip.get("data-n") for chip in found] == ["1", "1", "2"]
    assert found[0].get("href") == "/sources/7/?page=3"
    preview = found[0].text_content()
    assert "Travel policy" in preview and "page 3" in preview and "Travel › Per diem" in preview
    assert "80,000 won." in preview


def test_an_unsupported_citation_is_marked_and_says_why():
    html = citation_chips(render_answer("Lunch is free [2]."), SOURCES)
    (chip,) = chips(html)
    assert chip.get("class") == "cite unsupported"
    assert "does not support" in chip.get("aria-description")
    assert "does not support" in chip.get("title")


def test_markers_in_code_links_and_attributes_stay_text():
    markdown = ('Run `grep [1]`:\n\n```\narray[1] = 2\n```\n\n'
                '[see [1]](https://a.example "note [1]")')
    html = citation_chips(render_answer(markdown), SOURCES)
    assert chips(html) == []
    assert "array[1] = 2" in html and "grep [1]" in html and 'title="note [1]"' in html


def test_a_reference_definition_cannot_hijack_a_marker():
    html = citation_chips(render_answer("Allowance [1].\n\n[1]: https://attacker.example"), SOURCES)
    hrefs = [element.get("href") for element in elements(html) if element.get("href")]
    assert hrefs and set(hrefs) == {"/sources/7/?page=3"}


def test_numbers_the_answer_does_not_cite_stay_text():
    html = citation_chips(render_answer("Items [3] and [9]."), SOURCES)
    assert chips(html) == [] and "[3]" in html and "[9]" in html


@pytest.mark.parametrize("field", ["title", "snippet", "heading_path", "reason"])
def test_hostile_citation_data_cannot_break_out(field):
    payload = '"><script>alert(1)</script><img src=x onerror=alert(1)>\''
    source = {**SOURCES[2], field: payload}
    html = citation_chips(render_answer("Claim [2]."), {2: source})
    assert_inert(html)
    (chip,) = chips(html)
    assert chip.get("data-n") == "2"
    assert payload in chip.text_content() or payload in chip.get("aria-label", "")


def test_a_citation_url_that_is_not_a_web_address_goes_nowhere():
    source = {**SOURCES[1], "url": "javascript:alert(1)"}
    (chip,) = chips(citation_chips(render_answer("Claim [1]."), {1: source}))
    assert chip.get("href") == "#"


def test_korean_text_keeps_its_particles_and_page_label():
    with translation.override("ko"):
        html = citation_chips(render_answer("서울의 일비는 8만 원[1]이다."), SOURCES)
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert root.text_content().startswith("서울의 일비는 8만 원[1]")
    assert root.text_content().strip().endswith("이다.")
    assert "3쪽" in chips(html)[0].text_content()


def where(citation) -> str:
    (chip,) = chips(citation_chips(render_answer("Claim [1]."), {1: citation}))
    found = chip.find_class("cite-where")
    return found[0].text_content() if found else ""


def test_the_preview_does_not_repeat_the_title_as_its_heading_path():
    base = {"url": "/sources/7/", "snippet": "Set CITEWISE_DATA_DIR.", "supported": True}
    assert where({**base, "title": "Configuration", "heading_path": ["Configuration"]}) == ""
    assert where({**base, "title": "Configuration", "page": 2,
                  "heading_path": "Configuration"}) == "page 2"
    assert where({**base, "title": "Administering knowledge bases", "heading_path": [
        "Administering knowledge bases", "Rebuilding indexes"]}) == "Rebuilding indexes"
    assert where({**base, "title": "admin.md", "heading_path": [
        "Administering", "Rebuilding indexes"]}) == "Administering › Rebuilding indexes"


def test_a_list_quoted_whole_reads_as_a_list_with_its_chip_after_the_last_step():
    """The extractive backend quotes a list that is one sentence in a paragraph of its own,
    lead-in and steps on their own lines as the passage has them (one paragraph each, the
    parsers' blocks: inference.backends.extractive)."""
    answer = ("Run the synopsis. [1]\n\nTo move a deployment (or back):\n\n"
              "1. rebuild the indexes while the current store keeps serving;\n\n"
              "2. set the store and restart;\n\n3. run step 1 again. [1]\n\nThen check. [1]")
    root = lxml.html.fragment_fromstring(
        citation_chips(render_answer(answer), SOURCES), create_parent="div")
    assert [p.text_content()[:9] for p in root.findall("p")] == ["Run the s", "To move a",
                                                                 "Then chec"]
    steps = root.findall("ol/li")
    assert [li.text_content().strip()[:12] for li in steps] == ["rebuild the ", "set the stor",
                                                        "run step 1 a"]
    assert [len(li.findall(".//a")) for li in steps] == [0, 0, 1]
    # An HTML list's items reach the passage without bullets: still one line each.
    bare = render_answer("To move:\n\nrebuild the indexes;\n\nswitch over. [1]")
    assert bare.count("<p>") == 3
