"""Operations: task records, health and readiness, metrics, request logging, `serve`."""
