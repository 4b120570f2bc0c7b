"""Build the multi-format ingestion corpus from Debian documentation packages.

    .venv/bin/python benchmarks/ingestion_corpus.py [--root /tmp/ingest-corpus] [--download]

--download runs `apt-get download` for the packages below into ROOT and unpacks them with
`dpkg-deb -x` into ROOT/extracted (needs apt, a Debian mirror, and pandoc for the .docx
part: `apt-get install pandoc`). The sample is then copied into ROOT/sample and listed in
ROOT/sample/manifest.json. Nothing is written inside the repository: keep corpora out of
git. The choice is deterministic (sorted names, every n-th file), so reruns pick the
same documents.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGES = ["postgresql-doc-15", "python3.11-doc", "r-doc-pdf", "texlive-lang-korean"]
POSTGRES_HTML = "usr/share/doc/postgresql-doc-15/html"
PYTHON_HTML = "usr/share/doc/python3.11/html"
R_MANUALS = "usr/share/R/doc/manual"
TEXLIVE_DOC = "usr/share/doc/texlive-doc"
# The R manuals without the 2,415-page reference manual (it alone would dwarf the rest).
R_PDFS = ["R-FAQ.pdf", "R-admin.pdf", "R-data.pdf", "R-intro.pdf", "R-ints.pdf", "R-lang.pdf"]
KOREAN_PDFS = [
    "latex/cjk-ko/cjk-ko-doc.pdf", "latex/kotex-utf/kotex-doc.pdf",
    "latex/kotex-utf/kotex-utf-doc.pdf", "latex/lshort-korean/lshort-ko.pdf",
    "latex/kotex-oblivoir/oblivoir-simpledoc.pdf", "latex/kotex-oblivoir/ob-mathleading-doc.pdf",
    "latex/kotex-oblivoir/obchaptertoc-doc.pdf", "latex/pmhanguljamo/pmhanguljamo-kdoc.pdf",
]


def download(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=root, check=True)
    for deb in sorted(root.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "extracted")], check=True)


def every(files: list[Path], count: int) -> list[Path]:
    """`count` files spread evenly over the sorted list."""
    files = sorted(files)
    step = max(1, len(files) // count)
    return files[::step][:count]


def build(root: Path) -> list[dict[str, str]]:
    src = root / "extracted"
    out = root / "sample"
    shutil.rmtree(out, ignore_errors=True)
    picked: list[tuple[str, Path, str]] = []  # (group, source, file name)
    for path in every(list((src / POSTGRES_HTML).glob("*.html")), 50):
        picked.append(("html-postgres", path, f"pg-{path.name}"))
    library = list((src / PYTHON_HTML / "library").glob("*.html"))
    for path in every(library, 40):
        picked.append(("html-python", path, f"py-{path.name}"))
    sources = [p for p in (src / PYTHON_HTML / "_sources").rglob("*.rst.txt")
               if "library" not in p.parts]
    for path in every(sources, 30):
        name = "-".join(path.relative_to(src / PYTHON_HTML / "_sources").parts)
        picked.append(("text-rst", path, name))
    for name in R_PDFS:
        picked.append(("pdf-en", src / R_MANUALS / name, name))
    for name in KOREAN_PDFS:
        picked.append(("pdf-ko", src / TEXLIVE_DOC / name, Path(name).name))
    manifest = []
    for group, path, name in picked:
        target = out / group / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        manifest.append({"group": group, "file": str(target.relative_to(out)),
                         "source": str(path.relative_to(src))})
    # Office: tutorial and how-to pages (not in the HTML sample) converted by pandoc.
    pages = every(list((src / PYTHON_HTML / "tutorial").glob("*.html"))
                  + list((src / PYTHON_HTML / "howto").glob("*.html")), 12)
    for path in pages:
        target = out / "docx" / f"{path.parent.name}-{path.stem}.docx"
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pandoc", "--from", "html", "--to", "docx", "-o", str(target),
                        str(path)], check=True)
        manifest.append({"group": "docx", "file": str(target.relative_to(out)),
                         "source": f"{path.relative_to(src)} (pandoc html->docx)"})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "ingest-corpus")
    parser.add_argument("--download", action="store_true")
    args = parser.parse_args()
    if args.download:
        download(args.root)
    manifest = build(args.root)
    groups: dict[str, int] = {}
    for item in manifest:
        groups[item["group"]] = groups.get(item["group"], 0) + 1
    print(f"{len(manifest)} documents in {args.root / 'sample'}: {groups}")


if __name__ == "__main__":
    main()
