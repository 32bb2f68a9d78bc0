"""Searching one published version: the local or Milvus backend, citation lookup, fusion and the
learned re-ranker, and the hits they make."""
