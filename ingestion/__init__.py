"""Ingestion: one parser per file format, producing text blocks with page and heading
path, and the chunker. Framework-free: never imports Django or citewise."""
