"""ingestion/ is framework-free and imports parser libraries only when parsing."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_framework_and_no_parser_library():
    code = (
        "import sys, ingestion.parse, ingestion.chunker, ingestion.safety, ingestion.detect\n"
        "names = ('django', 'citewise', 'frontend', 'pypdf', 'docx', 'pptx', 'openpyxl', "
        "'bs4', 'pytesseract', 'PIL', 'transformers')\n"
        "print(','.join(n for n in names if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
