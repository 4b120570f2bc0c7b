"""Knowledge: knowledge bases, documents, chunks, ingestion jobs, access rules and tasks."""
