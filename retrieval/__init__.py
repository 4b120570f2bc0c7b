"""Retrieval: embedder, FAISS index store, lexical (BM25) index, hybrid fusion and the
optional reranker. Framework-free: never imports Django or citewise."""
