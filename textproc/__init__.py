"""Text handling shared by ingestion, retrieval and inference: Unicode normalisation,
sentence splitting (English, Korean and CJK punctuation), tokens, stop words and
language identification.

A leaf package: it imports nothing of Citewise's and no framework, so the chunker, the
lexical index and the citation verifier all cut and compare text the same way.
"""
