"""Answer backends behind one interface (`AnswerBackend.stream`). Import the concrete
ones from their modules: `inference.backends.vllm`, `inference.backends.extractive`."""

from inference.backends.base import (
    AnswerBackend,
    AnswerRequest,
    Delta,
    Done,
    Event,
    Example,
    Turn,
    Usage,
    collect,
)

__all__ = ["AnswerBackend", "AnswerRequest", "Delta", "Done", "Event", "Example", "Turn",
           "Usage", "collect"]
