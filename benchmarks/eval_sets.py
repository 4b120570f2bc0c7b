"""Where the shared evaluation sets are: $CITEWISE_EVAL_DIR, else shared/eval beside the
checkout (as CI lays it out), else the workplace's shared folder."""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = [
    Path(os.environ["CITEWISE_EVAL_DIR"]) if os.environ.get("CITEWISE_EVAL_DIR") else None,
    _ROOT.parent / "shared" / "eval",
    Path("/work/shared/eval"),
]
EVAL = next((path for path in _CANDIDATES if path and path.is_dir()),
            _ROOT.parent / "shared" / "eval")
