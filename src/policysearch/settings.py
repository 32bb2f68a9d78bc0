"""All knobs of an index in one dataclass, saved in the manifest so a loaded index behaves as built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Settings:
    """Chunking and BM25 parameters; defaults are what we would pick for Chinese policy text."""

    segmenter: str = "rjieba"
    chunk_size: int = 300
    chunk_max: int = 500
    overlap_sentences: int = 1
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    idf: str = "lucene"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
