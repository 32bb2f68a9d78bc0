"""The knobs of an index, in two parts: what a build fixes (`IndexSettings`) and how its passages
are ranked and answered (`SearchSettings`). Both check themselves when made and are saved in the
manifest, so an opened index searches exactly as it was built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .errors import PolicySearchError

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)
Backend = Literal["local", "milvus"]
BACKENDS: tuple[str, ...] = get_args(Backend)
Precision = Literal["auto", "fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


class _Checked:
    """Validation shared by both settings classes: every field against its type hint (Literal
    choices included), then the class's own ranges; a bad value is one line naming the field."""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and float in _allowed(hints[f.name]):
                object.__setattr__(self, f.name, float(value))
            elif not _fits(value, hints[f.name]):
                raise PolicySearchError(f"settings.{f.name} is {value!r}; {_expected(hints[f.name])}")
        for name, low, high in self._RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise PolicySearchError(f"settings.{name} is {value!r}; it must be from {low} to {high}")
        self._check()

    _RANGES: tuple[tuple[str, float, float], ...] = ()

    def _check(self) -> None:
        """Rules that tie fields together (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Settings read back from a manifest: unknown keys are refused, missing ones take defaults."""
        if not isinstance(data, dict):
            raise PolicySearchError(f"settings are {type(data).__name__}, not an object")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise PolicySearchError(f"settings.{unknown[0]} is not a setting of {cls.__name__}")
        return cls(**data)


def _allowed(hint: Any) -> tuple[Any, ...]:
    return get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)


def _fits(value: Any, hint: Any) -> bool:
    for option in _allowed(hint):
        if get_origin(option) is Literal:
            if value in get_args(option) and isinstance(value, str):
                return True
        elif option is type(None):
            if value is None:
                return True
        elif isinstance(value, option) and not (isinstance(value, bool) and option is not bool):
            return True
    return False


def _expected(hint: Any) -> str:
    words = []
    for option in _allowed(hint):
        if get_origin(option) is Literal:
            words.append("one of " + ", ".join(get_args(option)))
        else:
            words.append("none" if option is type(None) else option.__name__)
    return "expected " + " or ".join(words)


@dataclass(frozen=True)
class IndexSettings(_Checked):
    """What a build fixes: chunking, tokens, BM25 weights, the dense model and where vectors live.
    Changing any of these needs a rebuild (`policysearch index --rebuild`)."""

    segmenter: Literal["rjieba", "jieba"] = "rjieba"
    """Word segmenter for BM25: rjieba (jieba's dictionary in Rust, faster) or jieba (the Python original)."""
    chunk_size: int = 200
    """Characters a passage aims for; sentences are packed until the next would pass it."""
    chunk_max: int = 300
    """Characters a passage never exceeds; longer sentences are cut at clauses."""
    overlap_sentences: int = 1
    """Sentences repeated at the start of a passage that continues a split paragraph (0 or 1)."""
    k1: float = 1.5
    """BM25 term-frequency saturation (no unit; higher lets repeated terms count longer)."""
    b: float = 0.75
    """BM25 length normalisation, from 0 (none) to 1 (full)."""
    epsilon: float = 0.25
    """Floor for negative idf as a share of the mean idf (rank_bm25's Okapi variant only)."""
    idf: Literal["lucene", "okapi"] = "lucene"
    """BM25 idf formula: lucene (never negative) or okapi (rank_bm25's, floored by `epsilon`)."""
    model: str | None = "multilingual-e5-small"
    """Dense model: a name from `policysearch models` or a sentence-transformers folder; None for BM25 only."""
    query_prefix: str | None = None
    """Text put before each query for the model; None takes the model's own prompt."""
    passage_prefix: str | None = None
    """Text put before each passage for the model; None takes the model's own prompt."""
    precision: Precision = "auto"
    """Encoder arithmetic: auto (env POLICYSEARCH_PRECISION, else bf16 on AMX/AVX512-BF16, else int8), fp32, bf16, int8."""
    context: Literal["none", "heading", "title+heading"] = "title+heading"
    """Searched with each passage besides its text: none, its heading path, or title and heading path."""
    terms: Literal["none", "quoted", "quoted+recurring"] = "quoted"
    """Corpus terms matched whole besides their words: none, quoted spans, or also recurring cohesive word sequences."""
    ocr: bool = True
    """Read scanned PDF pages and images (.png, .jpg, .tif) by offline OCR; off: images skipped, scanned pages left out."""
    file_timeout: float = 300.0
    """Seconds of wall time one file may take to read (conversion and OCR included) before it is skipped with a warning."""
    file_memory: int = 2048
    """Megabytes of memory the worker reading one file may use before the file is skipped with a warning."""
    hnsw_threshold: int = 200_000
    """Passages from which vectors get an HNSW graph instead of an exact scan."""
    backend: Backend = "local"
    """Where passages are ranked: the index folder (local) or a Milvus collection."""
    milvus_uri: str = ""
    """The Milvus server URL or Milvus Lite file (backend milvus only)."""

    _RANGES = (("chunk_size", 1, 1_000_000), ("chunk_max", 1, 1_000_000), ("overlap_sentences", 0, 1),
               ("k1", 0.0, 100.0), ("b", 0.0, 1.0), ("epsilon", 0.0, 1.0), ("hnsw_threshold", 1, 10**12),
               ("file_timeout", 1.0, 86_400.0), ("file_memory", 256, 1_048_576))

    def _check(self) -> None:
        if self.chunk_size > self.chunk_max:
            raise PolicySearchError(f"settings.chunk_size ({self.chunk_size}) must be at most settings.chunk_max "
                                    f"({self.chunk_max})")
        if self.backend == "milvus" and not self.milvus_uri:
            raise PolicySearchError("settings.milvus_uri is empty; the milvus backend needs a server URL "
                                    "or a Milvus Lite file (--uri)")


@dataclass(frozen=True)
class SearchSettings(_Checked):
    """How an index ranks and answers: the mode, the fusion of its two rankings and the answer
    threshold. Saved with the index; another set may be given when opening it, without a rebuild."""

    mode: Mode = "hybrid"
    """Default ranking: bm25 (words), dense (meaning) or hybrid (both fused); an index without a model uses bm25."""
    fusion: Literal["score", "rrf"] = "score"
    """How hybrid fuses: score (weighted sum of min-max scaled scores) or rrf (reciprocal rank fusion)."""
    bm25_weight: float = 0.3
    """Weight of the BM25 ranking in the fusion (no unit)."""
    dense_weight: float = 0.7
    """Weight of the dense ranking in the fusion (no unit)."""
    rrf_k: float = 60.0
    """The rank offset of reciprocal rank fusion (rrf only); larger flattens the ranks."""
    candidates: int = 100
    """Passages each ranking contributes to the fusion, at least `k`."""
    document_weight: float = 0.2
    """Weight of a passage's document evidence (its document's three best fused scores) added to its own (hybrid)."""
    rerank: bool = False
    """Re-order the best `rerank_depth` candidates with the shipped learned re-ranker (hybrid; BM25 without vectors)."""
    rerank_depth: int = 20
    """First-stage candidates the re-ranker re-orders; the rest follow in fused order."""
    neighbour_ratio: float = 0.0
    """A passage right before or after a hit of its document joins it if it scores this share of the hit's score (0: never)."""
    citations: bool = True
    """Put the article a query names (未成年人保护法第十二条) first, looked up by law title and number."""
    article_max: int = 1000
    """Characters up to which a hit on part of a split law article shows the whole article (0: never)."""
    answer_threshold: float = 0.10
    """Confidence (a calibrated probability, 0 to 1) below which `ask` says nothing answers the question."""

    _RANGES = (("bm25_weight", 0.0, 1e6), ("dense_weight", 0.0, 1e6), ("rrf_k", 0.0, 1e6), ("candidates", 1, 100_000),
               ("rerank_depth", 1, 1000), ("neighbour_ratio", 0.0, 1.0),
               ("document_weight", 0.0, 1e6), ("article_max", 0, 100_000),
               ("answer_threshold", 0.0, 1.0))
