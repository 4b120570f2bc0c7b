"""Names shared by settings, models and services. Importable from settings: it loads no
models."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class AnswerBackend(TextChoices):
    """Who writes the answer: quotes chosen from the passages (no GPU, no invention), or
    the LLM served by vLLM (CITEWISE_ANSWER_BACKEND, or a knowledge base's own choice)."""

    EXTRACTIVE = "extractive", _("Extractive: quotes, no LLM")
    VLLM = "vllm", _("LLM (vLLM)")
