"""Main-content extraction of real generated HTML: Citewise's parser (before and after
issue 10) beside trafilatura, readability-lxml and jusText.

    .venv/bin/python benchmarks/html_extraction.py [--root /tmp/debdocs] [--download]
        [--sample 40] [--previous REV]

--download runs `apt-get download` for the documentation packages below into ROOT and
unpacks them into ROOT/extracted. The other extractors are measured only when installed
(`pip install trafilatura readability-lxml justext`); they are not dependencies.
--previous REV names the git revision whose ingestion/parsers/webpage.py is "previous"
(default: the commit before issue 10's HTML work).

Truth comes from each generator's own markup, used here only to grade: navigation is
what DocBook, Sphinx and the LibreOffice help put in their navigation containers (list
below); content is every other heading, paragraph, list item, table cell and code block
of the body. Scores, per page group:
- nav passages: passages (chunks of at most 200 words) holding any navigation (the
  issue's measure: a bar of chapter titles matches questions about those chapters);
- content kept: share of the content's characters found in the extractor's output;
- headings kept: share of the page's headings that come out as headings (the heading path
  needs them); code and table cells kept likewise.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion.blocks import Block, ParsedDocument  # noqa: E402
from ingestion.chunker import chunk_document  # noqa: E402

PACKAGES = ["debian-reference-en", "maint-guide", "developers-reference",
            "libreoffice-help-ko", "gimp-help-ko"]
GROUPS = {
    "DocBook, en (debian-reference)": "usr/share/debian-reference/*.en.html",
    "DocBook, en (maint-guide)": "usr/share/doc/maint-guide/html/*.en.html",
    "Sphinx, en (developers-reference)": "usr/share/developers-reference/*.html",
    "generated, ko (LibreOffice help)": "usr/share/libreoffice/help/ko/text/**/*.html",
    "DocBook, ko (GIMP help)": "usr/share/gimp/2.0/help/ko/*.html",
}
PYTHON_FAQ = ROOT.parent / "shared" / "eval" / "python-faq" / "docs"
# Navigation containers of the generators above, for grading only (the parser never
# looks at these names). LibreOffice's .relatedtopics is its "관련 주제" (related topics)
# box of links to other help pages, like Sphinx's related bar.
NAV_SELECTOR = (".navheader, .navfooter, div.toc, .list-of-tables, .list-of-figures, "
                ".list-of-examples, .list-of-procedures, .related, .sphinxsidebar, .footer, "
                "[role=navigation], nav, .toctree-wrapper > ul, header, footer, aside, "
                "#SearchFrame, #DonationFrame, .breadcrumbs, .relatedtopics")
PREVIOUS_REV = "6f3e052"
_LABEL = re.compile(r"^[^:]{1,40}: ")


def download(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=root, check=True)
    for deb in sorted(root.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "extracted")], check=True)


def pages(root: Path, sample: int) -> dict[str, list[Path]]:
    """Up to `sample` pages per group, the same ones on every run (seeded)."""
    chosen = {}
    groups = {name: sorted((root / "extracted").glob(pattern)) for name, pattern in GROUPS.items()}
    groups["Sphinx, en (python-faq)"] = sorted(PYTHON_FAQ.glob("*.html"))
    for name, files in groups.items():
        files = [f for f in files if f.stat().st_size > 0]
        # A seeded sample, the same pages on every run; nothing secret about it.
        chosen[name] = random.Random(10).sample(files, min(sample, len(files)))  # noqa: S311
    return chosen


# --- truth --------------------------------------------------------------------------


def squash(text: str) -> str:
    """Text without whitespace or Sphinx's permalink sign, so extractors that space or
    keep it differently still match."""
    return "".join(text.split()).replace("¶", "")


def truth(html: str) -> dict[str, list[str]]:
    """Navigation and content pieces of a page by its generator's markup."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(["script", "style", "noscript", "title", "head"]):
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        tag.decompose()
    nav = [squash(tag.get_text(" ")) for tag in soup.select(NAV_SELECTOR)]
    for tag in soup.select(NAV_SELECTOR):
        tag.decompose()
    body = soup.body or soup
    pieces = {"headings": [], "code": [], "cells": [], "text": []}
    for tag in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        pieces["headings"].append(squash(tag.get_text()))
    for tag in body.find_all("pre"):
        pieces["code"].append(squash(tag.get_text()))
    for tag in body.find_all(["td", "th"]):
        if not tag.find(["table", "pre"]):
            pieces["cells"].append(squash(tag.get_text()))
    for tag in body.find_all(["p", "li", "dt", "dd", "td", "th", "pre", "h1", "h2", "h3", "h4",
                              "h5", "h6"]):
        if not tag.find(["p", "li", "table", "pre", "div"]):
            pieces["text"].append(squash(tag.get_text()))
    return {"nav": [n for n in nav if n], **{k: [p for p in v if p] for k, v in pieces.items()}}


# --- extractors -> blocks -----------------------------------------------------------


def _load_parser(source: str) -> Callable[[Path], ParsedDocument]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("previous_webpage", handle.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_html


def citewise_parsers(previous_rev: str) -> dict[str, Callable[[Path], ParsedDocument]]:
    from ingestion.parsers.webpage import parse_html

    old = subprocess.run(["git", "show", f"{previous_rev}:ingestion/parsers/webpage.py"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    # The text helpers it imported moved from ingestion/text.py to textproc (issue 10).
    old = old.replace("from ingestion.text import clean_inline, decode_bytes, normalize_text",
                      "from textproc.encoding import decode_bytes\n"
                      "from textproc.normalize import clean_inline, normalize_text")
    return {"citewise, before": _load_parser(old), "citewise, now": parse_html}


def _walk_html(html: str) -> list[Block]:
    """Blocks of already-extracted HTML through Citewise's walker (headings, lists,
    tables, code), without its own navigation rules."""
    from bs4 import BeautifulSoup

    from ingestion.parsers.webpage import _Walker

    walker = _Walker()
    soup = BeautifulSoup(html, "lxml")
    walker.walk(soup.body or soup)
    walker.flush()
    return walker.blocks


# trafilatura's XML elements -> HTML tags (its own HTML output loses headings).
_TEI_TO_HTML = {"doc": "div", "main": "div", "p": "p", "list": "ul", "item": "li",
                "table": "table", "row": "tr", "cell": "td", "code": "pre", "quote": "blockquote",
                "hi": "span", "ref": "span", "lb": "br", "comments": "div", "graphic": "span"}


def _html_tag(element) -> str:
    rend = element.get("rend", "")
    if element.tag == "head":
        return rend if re.fullmatch(r"h[1-6]", rend) else "h2"
    if element.tag == "code" and element.getparent().tag in {"p", "item", "cell", "head"}:
        return "span"  # inline code inside running text
    return _TEI_TO_HTML.get(element.tag, "div")


def trafilatura_blocks(path: Path) -> list[Block]:
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(path.read_text(errors="replace"), output_format="xml",
                              include_tables=True, include_formatting=True,
                              include_links=False, include_comments=False)
    if not xml:
        return []
    tree = etree.fromstring(xml.encode())
    renamed = [(element, _html_tag(element)) for element in tree.iter()]
    for element, tag in renamed:
        element.tag = tag
    return _walk_html(etree.tostring(tree, encoding="unicode"))


def readability_blocks(path: Path) -> list[Block]:
    from readability import Document

    return _walk_html(Document(path.read_text(errors="replace")).summary())


def justext_blocks(path: Path) -> list[Block]:
    import justext

    html = path.read_bytes()
    korean = b'lang="ko"' in html[:2000] or "/ko/" in str(path)
    stoplist = justext.get_stoplist("Korean" if korean else "English")
    blocks = []
    for paragraph in justext.justext(html, stoplist):
        if not paragraph.is_boilerplate:
            blocks.append(Block(paragraph.text, kind="heading" if paragraph.heading
                                else "paragraph"))
    return blocks


def extractors(previous_rev: str) -> dict[str, Callable[[Path], list[Block]]]:
    found: dict[str, Callable[[Path], list[Block]]] = {
        name: (lambda path, parse=parse: parse(path).blocks)
        for name, parse in citewise_parsers(previous_rev).items()}
    for module, name, function in [("trafilatura", "trafilatura 2", trafilatura_blocks),
                                   ("readability", "readability-lxml", readability_blocks),
                                   ("justext", "jusText", justext_blocks)]:
        if importlib.util.find_spec(module) is not None:
            found[name] = function
    return found


# --- scoring ------------------------------------------------------------------------


def _is_nav(text: str, nav: str, content: str) -> bool:
    """A piece of output is navigation when at least half of it is words found in the
    navigation and not in the content (a page's title is in both: it counts as
    content). Table-shaped output ("Prev | Up | Next", "Column 1: Chapter 2; ...") is
    judged cell by cell, without the labels Citewise puts before cells."""
    cells = [_LABEL.sub("", cell) for cell in re.split(r" \| |; ", text)]
    nav_chars = sum(len(squash(c)) for c in cells
                    if squash(c) and squash(c) in nav and squash(c) not in content)
    return nav_chars > 0 and nav_chars * 2 >= len(squash(text))


def score_page(blocks: list[Block], gold: dict[str, list[str]]) -> dict[str, float]:
    nav, content = "\x00".join(gold["nav"]), "\x00".join(gold["text"])
    blocks = [b for b in blocks if b.text.strip()]
    out = "".join(squash(b.text) for b in blocks)
    nav_block = [_is_nav(b.text, nav, content) for b in blocks]
    passages = chunk_document(ParsedDocument(blocks=blocks), lambda t: len(t.split()),
                              max_tokens=200, overlap_tokens=0) if blocks else []
    # A passage with any navigation in it: a bar of chapter titles matches questions
    # about those chapters whatever else the passage holds.
    nav_passages = sum(any(_is_nav(part, nav, content) for part in passage.text.split("\n\n"))
                       for passage in passages)
    headings = {squash(b.text) for b in blocks if b.kind == "heading"}
    return {
        "passages": len(passages), "nav_passages": nav_passages,
        "nav_blocks": sum(nav_block), "blocks": len(blocks),
        "content_chars": sum(len(t) for t in gold["text"]),
        "content_kept": sum(len(t) for t in gold["text"] if t in out),
        "headings": len(gold["headings"]),
        "headings_kept": sum(h in headings for h in gold["headings"]),
        "code": len(gold["code"]), "code_kept": sum(c in out for c in gold["code"]),
        "cells": len(gold["cells"]), "cells_kept": sum(c in out for c in gold["cells"]),
    }


def _ratio(part: float, whole: float) -> str:
    return f"{part / whole:.3f}" if whole else "n/a"


def report(name: str, totals: dict[str, float], seconds: float, failures: int) -> str:
    return (f"| {name} | {totals['nav_passages']}/{totals['passages']} "
            f"({_ratio(totals['nav_passages'], totals['passages'])}) | "
            f"{_ratio(totals['content_kept'], totals['content_chars'])} | "
            f"{_ratio(totals['headings_kept'], totals['headings'])} | "
            f"{_ratio(totals['code_kept'], totals['code'])} | "
            f"{_ratio(totals['cells_kept'], totals['cells'])} | {failures} | {seconds:.1f} |")


def run_group(files: list[Path], extract: Callable[[Path], list[Block]],
              golds: dict[Path, dict]) -> tuple[dict[str, float], float, int]:
    totals: dict[str, float] = {}
    failures = 0
    started = time.perf_counter()
    for path in files:
        try:
            blocks = extract(path)
        except Exception:  # an extractor that fails a page keeps nothing of it
            failures += 1
            blocks = []
        for key, value in score_page(blocks, golds[path]).items():
            totals[key] = totals.get(key, 0) + value
    return totals, time.perf_counter() - started, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "debdocs")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--previous", default=PREVIOUS_REV)
    args = parser.parse_args()
    if args.download:
        download(args.root)
    import warnings

    warnings.filterwarnings("ignore")
    chosen = pages(args.root, args.sample)
    golds = {p: truth(p.read_text(errors="replace")) for files in chosen.values() for p in files}
    for group, files in chosen.items():
        print(f"\n#### {group} ({len(files)} pages)\n")
        print("| extractor | nav passages | content kept | headings kept | code kept "
              "| table cells kept | pages failed | seconds |")
        print("|---|---|---|---|---|---|---|---|")
        for name, extract in extractors(args.previous).items():
            totals, seconds, failures = run_group(files, extract, golds)
            print(report(name, totals, seconds, failures), flush=True)


if __name__ == "__main__":
    main()
