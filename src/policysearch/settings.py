"""All knobs of an index in one dataclass, saved in the manifest so a loaded index behaves as built."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from .errors import PolicySearchError


@dataclass
class Settings:
    """Chunking, BM25, dense model and fusion parameters; defaults are what we would pick for
    Chinese policy text. `model=None` builds a BM25-only index (no torch needed). `backend="milvus"`
    searches a Milvus collection at `milvus_uri` (a cluster URL or a Milvus Lite file)."""

    segmenter: str = "rjieba"
    chunk_size: int = 200
    chunk_max: int = 300
    overlap_sentences: int = 1
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    idf: str = "lucene"
    model: str | None = "multilingual-e5-small"
    query_prefix: str | None = None
    passage_prefix: str | None = None
    hnsw_threshold: int = 200_000
    mode: str = "hybrid"
    fusion: str = "score"
    bm25_weight: float = 0.3
    dense_weight: float = 0.7
    rrf_k: float = 60.0
    candidates: int = 100
    answer_dense_weight: float = 1.0
    answer_term_weight: float = 0.3
    answer_threshold: float = 1.0
    backend: str = "local"
    milvus_uri: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Settings read back from a manifest; a value of the wrong type is refused, naming it."""
        values = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value, default = data[f.name], f.default if f.default is not MISSING else None
            expected = (int, float) if isinstance(default, float) else (str,) if default is None else (type(default),)
            if not (value is None and f.name in _OPTIONAL or isinstance(value, expected) and not
                    (isinstance(value, bool) and bool not in expected)):
                raise PolicySearchError(f"settings.{f.name} is {value!r}; expected {expected[0].__name__}")
            values[f.name] = value
        return cls(**values)


_OPTIONAL = {"model", "query_prefix", "passage_prefix"}
