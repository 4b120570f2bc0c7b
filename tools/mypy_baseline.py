"""`make lint`'s type check: mypy on the framework-free packages ([tool.mypy] in
pyproject.toml), held against tools/mypy-baseline.txt, the errors known when the check
began. A new error fails; so does a baseline line that no longer occurs, so the
baseline only shrinks: fix an error, then remove its line.

Lines are compared without line numbers ("path: message  [code]"; "line N" inside the
message), so editing above an
old error does not move it out of the baseline. Exit status 0 when both match.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tools" / "mypy-baseline.txt"
_ERROR = re.compile(r"^(?P<path>[^:]+):\d+(?::\d+)?: error: (?P<message>.*)$")
_LINE = re.compile(r"\bline \d+")  # "already defined on line 407"


def current_errors() -> Counter[str]:
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.exit(f"mypy failed:\n{result.stderr}{result.stdout}")
    return Counter(f"{m['path']}: {_LINE.sub('line N', m['message'])}"
                   for m in map(_ERROR.match, result.stdout.splitlines()) if m)


def main() -> int:
    known = Counter(line for line in BASELINE.read_text().splitlines() if line.strip())
    errors = current_errors()
    new, fixed = errors - known, known - errors
    for line in sorted(new.elements()):
        print(f"new type error: {line}")
    for line in sorted(fixed.elements()):
        print(f"fixed (remove its line from {BASELINE.relative_to(ROOT)}): {line}")
    if not new and not fixed:
        print(f"mypy: {sum(errors.values())} known errors (tools/mypy-baseline.txt), none new")
    return 1 if new or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
