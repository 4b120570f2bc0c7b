"""An optional entailment check for the verifier: does the cited passage entail the
sentence? Any natural-language-inference cross-encoder that sentence-transformers loads
(a model id or a local path, e.g. cross-encoder/nli-deberta-v3-small) whose labels name
"entailment". Off unless CITEWISE_ENTAILMENT_MODEL is set; then it decides support for
every cited sentence that is not quoted word for word.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class EntailmentModel:
    """(premise, hypothesis) -> probability that the premise entails the hypothesis."""

    def __init__(self, model: str, *, max_length: int = 512, device: str | None = None) -> None:
        import torch
        from sentence_transformers import CrossEncoder  # lazy: heavy (torch)

        self.model_name = model
        self._raw = torch.nn.Identity()  # logits as they are; the softmax is done here
        self._model: Any = CrossEncoder(model, max_length=max_length, device=device)
        labels = {str(v).lower(): int(k) for k, v in self._model.config.id2label.items()}
        if "entailment" not in labels:
            raise ValueError(f"{model} is not an entailment model: its labels are "
                             f"{sorted(labels)}; expected one named 'entailment'")
        self._entailment = labels["entailment"]
        self._guard = threading.Lock()  # one torch model, called from several threads

    def __call__(self, premise: str, hypothesis: str) -> float:
        with self._guard:
            logits = np.asarray(self._model.predict([(premise, hypothesis)],
                                                    activation_fn=self._raw,
                                                    show_progress_bar=False),
                                dtype=np.float64).reshape(-1)
        shifted = np.exp(logits - logits.max())
        return float(shifted[self._entailment] / shifted.sum())
