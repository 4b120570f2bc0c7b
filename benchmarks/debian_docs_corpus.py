"""Build the real-document corpora (English, Korean) from Debian documentation packages.

    .venv/bin/python benchmarks/debian_docs_corpus.py [--cache DIR] [--out DIR]

The packages are fetched with `apt-get download` into CACHE/debs (default
$CITEWISE_DEBIAN_DOCS_CACHE, else ~/.cache/citewise/debian-docs), one file per package
version, and unpacked with `dpkg-deb -x` into CACHE/extracted/<deb name>; a version already
there is never fetched again. Nothing is written inside the repository.

Each corpus is one folder of documents as a company would have them: generated HTML
manuals (DocBook, Sphinx, LibreOffice help: navigation and all), a PDF cut from a real
manual, and a DOCX and an XLSX built here from sections and tables of the same manuals
(python-docx, openpyxl) so questions about them have gold answers. debian-faq,
debian-faq-ko and python-django-doc are deliberately not used: they are kept aside for
independent checks. The choice is deterministic: reruns build the same documents.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

PACKAGES = {"en": ["debian-reference-en", "maint-guide", "developers-reference"],
            "ko": ["libreoffice-help-ko", "texlive-lang-korean"]}
DEFAULT_CACHE = Path(os.environ.get("CITEWISE_DEBIAN_DOCS_CACHE")
                     or Path.home() / ".cache" / "citewise" / "debian-docs")

DEBREF = "usr/share/debian-reference"
MAINT_GUIDE = "usr/share/doc/maint-guide/html"
DEVREF = "usr/share/developers-reference"
LO_HELP = "usr/share/libreoffice/help/ko/text"
LSHORT_KO = "usr/share/doc/texlive-doc/latex/lshort-korean/lshort-ko.pdf"
# Developers' Reference pages left out: the whole book on one page (a duplicate of the
# chapters) and Sphinx's search page (no content).
DEVREF_SKIP = {"developers-reference.html", "search.html", "genindex.html"}
DEBREF_HTML = ["ch03", "ch04", "ch05", "ch08"]
# Korean LibreOffice help pages count when most of their letters are Hangul (the package
# leaves many pages partly in English) and they say something (> 700 characters).
HANGUL_SHARE, MIN_PAGE_CHARS = 0.6, 700


class Unavailable(RuntimeError):
    """The packages could not be fetched (no apt, no mirror) and are not in the cache."""


@dataclass(frozen=True)
class Built:
    language: str
    folder: Path  # the documents, ready for `manage.py ingest FOLDER`
    sources: dict[str, Path]  # document file name -> the HTML it came from (headings)


# ----- fetching ---------------------------------------------------------------------------

def _candidate_version(package: str) -> str | None:
    """apt's candidate version, or None when apt knows no mirror (offline)."""
    try:
        shown = subprocess.run(["apt-cache", "show", "--no-all-versions", package],
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"^Version: (\S+)", shown, re.M)
    return found.group(1) if found else None


def _deb_for(package: str, debs: Path) -> Path:
    """The package's .deb in the cache, downloaded first if apt has a newer version."""
    version = _candidate_version(package)
    cached = sorted(debs.glob(f"{package}_*.deb"))
    wanted = [d for d in cached if version and d.name.startswith(
        f"{package}_{version.replace(':', '%3a')}_")]
    if wanted:
        return wanted[0]
    if version:
        debs.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["apt-get", "download", package], cwd=debs,
                              capture_output=True, text=True)
        fetched = sorted(debs.glob(f"{package}_*.deb"))
        if done.returncode == 0 and fetched:
            return max(fetched, key=lambda p: p.stat().st_mtime)
    if cached:  # offline, but an earlier run left a version
        return cached[-1]
    raise Unavailable(f"cannot download the Debian package {package} (apt-get download "
                      "needs apt and a Debian mirror) and it is not cached in "
                      f"{debs}")


def fetch(language: str, cache: Path = DEFAULT_CACHE) -> list[Path]:
    """Unpacked roots of the language's packages (each like a / with usr/share/...)."""
    roots = []
    for package in PACKAGES[language]:
        deb = _deb_for(package, cache / "debs")
        root = cache / "extracted" / deb.stem
        if not (root / ".done").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            (root / ".done").touch()
        roots.append(root)
    return roots


def _find(roots: list[Path], relative: str) -> Path:
    for root in roots:
        if (root / relative).exists():
            return root / relative
    raise Unavailable(f"{relative} is in none of the unpacked packages")


# ----- reading the source HTML ------------------------------------------------------------

def soup(path: Path):
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
    return BeautifulSoup(path.read_bytes(), "lxml")


NUMBERING = re.compile(r"^(?:Chapter |Appendix )?[0-9A-Z]+(?:\.[0-9]+)*\.?\s+")


def clean_heading(text: str) -> str:
    """'5.1.2. The hostname resolution¶' -> 'The hostname resolution'."""
    text = " ".join(text.replace("¶", " ").split())
    return NUMBERING.sub("", text).strip()


class Section(NamedTuple):
    heading: str
    body: str  # the text up to the next heading
    shown: bool  # does a browser show the heading (see _shown)?


def sections(path: Path) -> list[Section]:
    """The sections of a source HTML page, h1-h4, hidden ones included (marked)."""
    page = soup(path)
    body = page.find(id="DisplayArea") or page.body
    out: list[tuple[str, list[str], bool]] = [("", [], True)]
    for node in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "pre", "td", "dd", "dt"]):
        if node.name.startswith("h"):
            out.append((clean_heading(node.get_text(" ")), [], _shown(node)))
        elif not node.find_parent(["p", "li", "td", "dd", "dt"]) or node.name == "p":
            out[-1][1].append(" ".join(node.get_text(" ").split()))
    return [Section(h, " ".join(parts), shown) for h, parts, shown in out if h]


def _shown(node) -> bool:
    """Not inside an element marked hidden, unless it is a case the page's script reveals
    on the page opened by itself: LibreOffice help ships every case of a switch hidden,
    and help2.js shows the case of the module named in the address (DbPAR: with none,
    Writer's or none, by version) or else the case named default, as our HTML parser
    reads it. A Calc-only case ("Adjacent Cells" in scalc/guide/borders.html, id
    CALC...) stays hidden in a browser, and is not a section a person can ask for."""
    for hidden in node.find_parents(attrs={"hidden": True}):
        names = [hidden.get("id") or "", *hidden.get("class", [])]
        if not any(name.lower().startswith("default") for name in names):
            return False
    return True


def _hangul_share(text: str) -> float:
    hangul = len(re.findall(r"[가-힣]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return hangul / (hangul + latin) if hangul + latin else 0.0


def _korean_pages(root: Path, module: str) -> list[Path]:
    pages = []
    for path in sorted((root / module / "guide").glob("*.html")):
        page = soup(path)
        text = " ".join((page.find(id="DisplayArea") or page).get_text(" ").split())
        if len(text) > MIN_PAGE_CHARS and _hangul_share(text) > HANGUL_SHARE:
            pages.append(path)
    return pages


# ----- building Office and PDF files ------------------------------------------------------

def _docx_from(pages: list[tuple[Path, list[str]]], target: Path) -> None:
    """One DOCX of the given pages' headings (Word heading styles), paragraphs, list items
    and tables; `pages` is [(html, ids of the sections to take, or [] for all)]."""
    import docx

    document = docx.Document()
    for path, wanted in pages:
        for node in _content_nodes(path, wanted):
            _add_to_docx(document, node)
    target.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(target))


def _content_nodes(path: Path, wanted: list[str]):
    """Headings, paragraphs, list items and tables in document order (not nested ones)."""
    page = soup(path)
    # DocBook puts a section's id on an <a> inside its heading.
    scopes = [page.find(id=w).find_parent("div", class_="section") for w in wanted]
    scopes = scopes or [page.find(id="DisplayArea") or page.body]
    for scope in scopes:
        for node in scope.find_all(["h1", "h2", "h3", "h4", "p", "li", "pre", "table"]):
            if not node.find_parent(["p", "li", "table", "pre"]):
                yield node


def _add_to_docx(document, node) -> None:
    text = " ".join(node.get_text(" ").split())
    if node.name == "table":
        rows = [[" ".join(c.get_text(" ").split()) for c in tr.find_all(["th", "td"])]
                for tr in node.find_all("tr")]
        width = max((len(r) for r in rows), default=0)
        if not width:
            return
        table = document.add_table(rows=0, cols=width)
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=False):
                cell.text = value
    elif node.name.startswith("h") and text:
        document.add_heading(clean_heading(text), level=min(int(node.name[1]), 4))
    elif text:
        document.add_paragraph(text, style="List Bullet" if node.name == "li" else None)


def _xlsx_from(tables: list[tuple[str, object]], target: Path) -> None:
    """One sheet per (sheet name, <table>): a title row, then the table's rows."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, table in tables:
        sheet = book.create_sheet(name[:31])
        for tr in table.find_all("tr"):
            sheet.append([" ".join(c.get_text(" ").split()) for c in tr.find_all(["th", "td"])])
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(target))


def _pdf_pages(source: Path, chapter: str, target: Path) -> None:
    """The pages of the top-level outline entry `chapter`, as a PDF of their own."""
    import pypdf

    reader = pypdf.PdfReader(str(source))
    tops = [(o.title, reader.get_destination_page_number(o)) for o in reader.outline
            if not isinstance(o, list)]
    index = [title for title, _ in tops].index(chapter)
    first, end = tops[index][1], tops[index + 1][1]
    writer = pypdf.PdfWriter()
    for number in range(first, end):
        writer.add_page(reader.pages[number])
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as stream:
        writer.write(stream)


def _copy(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)


# ----- the two corpora --------------------------------------------------------------------

def build_english(roots: list[Path], out: Path) -> Built:
    """Maint Guide and Developers' Reference (all chapters), four Debian Reference chapters
    as HTML, its "GUI System" chapter as a PDF, the console and vim sections of its
    "System tips" chapter as a DOCX and the tables of "Network applications" as an XLSX."""
    sources: dict[str, Path] = {}
    for path in sorted(_find(roots, MAINT_GUIDE).glob("*.html")):
        sources[f"maint-guide-{path.name}"] = path
    for path in sorted(_find(roots, DEVREF).glob("*.html")):
        if path.name not in DEVREF_SKIP:
            sources[f"developers-reference-{path.name}"] = path
    debref = _find(roots, DEBREF)
    for chapter in DEBREF_HTML:
        sources[f"debian-reference-{chapter}.en.html"] = debref / f"{chapter}.en.html"
    for name, path in sources.items():
        _copy(path, out / name)
    _pdf_pages(debref / "debian-reference.en.pdf", "GUI System",
               out / "debian-reference-gui-system.pdf")
    # The same chapter's HTML: its headings, and its text as a person reads it (the PDF's
    # text layer runs words together for some readers).
    sources["debian-reference-gui-system.pdf"] = debref / "ch07.en.html"
    _docx_from([(debref / "ch09.en.html", ["_the_console_tips", "_customizing_vim"])],
               out / "console-and-vim-tips.docx")
    network = soup(debref / "ch06.en.html")
    tables = [(f"Table 6.{i + 1}", div.find("table"))
              for i, div in enumerate(network.find_all("div", class_="table"))]
    _xlsx_from(tables, out / "network-application-packages.xlsx")
    return Built("en", out, sources)


def build_korean(roots: list[Path], out: Path) -> Built:
    """LibreOffice Writer and Calc guides (the Korean pages) as HTML, the Impress guide's
    Korean pages as one DOCX, the Writer, Calc and Impress shortcut-key tables as an XLSX
    and the first chapter of "The Not So Short Introduction to LaTeX" (Korean) as a PDF."""
    help_root = _find(roots, LO_HELP)
    sources: dict[str, Path] = {}
    for module in ("swriter", "scalc"):
        for path in _korean_pages(help_root, module):
            sources[f"{module}-{path.name}"] = path
    for name, path in sources.items():
        _copy(path, out / name)
    impress = _korean_pages(help_root, "simpress")
    _docx_from([(path, []) for path in impress], out / "impress-guide.docx")
    tables = []
    for module, sheet in (("swriter", "Writer"), ("scalc", "Calc"), ("simpress", "Impress")):
        page = soup(help_root / module / "04" / "01020000.html")
        for i, table in enumerate(page.find(id="DisplayArea").find_all("table")):
            tables.append((f"{sheet} {i + 1}", table))
    _xlsx_from(tables, out / "shortcut-keys.xlsx")
    _pdf_pages(_find(roots, LSHORT_KO), "알아두어야 할 기본 사항", out / "lshort-ko-basics.pdf")
    return Built("ko", out, sources)


BUILDERS = {"en": build_english, "ko": build_korean}


def build(language: str, out: Path, cache: Path = DEFAULT_CACHE) -> Built:
    """Fetch (or reuse) the packages and build the corpus into `out` (emptied first)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return BUILDERS[language](fetch(language, cache), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "debian-docs-corpus")
    args = parser.parse_args()
    for language in BUILDERS:
        built = build(language, args.out / language, args.cache)
        files = sorted(p.name for p in built.folder.iterdir())
        print(f"{language}: {len(files)} documents in {built.folder}")


if __name__ == "__main__":
    main()
