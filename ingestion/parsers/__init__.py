"""One parser per format. Each exposes `parse_<format>(path) -> ParsedDocument` and
imports its third-party library inside the function, so importing `ingestion` stays
cheap for processes that never parse."""
