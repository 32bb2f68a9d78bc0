"""Pick the sentence that answers a question from the top passages, with its citation.

Each sentence of the retrieved passages is scored by its dense similarity to the question (when
the index has a model) plus the idf-weighted share of the question's terms it contains; the best
score is the answer's confidence. Below `answer_threshold` (calibrated by benchmarks/answers.py
for the default model) we say that nothing answers it, unless the question cites an article.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .chunking import sentences
from .records import Answer, Filters, Hit

if TYPE_CHECKING:
    from .search import PolicySearch

NO_ANSWER = "no passage in the corpus answers this"
TERMS_ONLY_THRESHOLD = 0.5  # a BM25-only index: at least half the question's idf weight must be in the sentence


def answer(engine: PolicySearch, question: str, k: int = 3, mode: str | None = None,
           filters: Filters | None = None) -> Answer:
    hits = engine.search(question, k=k, mode=mode, filters=filters)
    cited = engine.cited_rows(question, filters)
    if cited:
        return _article(engine, question, cited, hits)
    notice = engine.notice(question)
    if notice:
        return Answer(question, False, "", 0.0, passages=hits, message=notice)
    terms = engine.tokenizer.tokens(question)
    candidates = [(hit, start, end) for hit in hits for start, end in sentences(hit.text)]
    if not candidates:
        return Answer(question, False, "", 0.0, passages=hits, message=NO_ANSWER)
    weights = {t: engine.bm25.idf_of(t) for t in set(terms)}
    total = sum(weights.values()) or 1.0
    texts = [hit.text[start:end] for hit, start, end in candidates]
    present = [set(engine.tokenizer.tokens(text)) for text in texts]
    overlap = np.array([sum(w for t, w in weights.items() if t in words) / total for words in present])
    settings = engine.settings
    if engine.has_vectors:
        query = engine.query_vector(question)
        similarity = engine.embedder.embed_sentences(texts) @ query
        scores = settings.answer_dense_weight * similarity + settings.answer_term_weight * overlap
    else:
        scores = overlap
    best = int(np.argmax(scores))
    hit, start, end = candidates[best]
    confidence = float(scores[best])
    if confidence < (settings.answer_threshold if engine.has_vectors else TERMS_ONLY_THRESHOLD):
        return Answer(question, False, "", confidence, passages=hits, message=NO_ANSWER)
    return Answer(
        question=question, answered=True, text=texts[best], confidence=confidence, doc_id=hit.doc_id,
        title=hit.title, date=hit.date, source=hit.source, path=hit.path, article=hit.article,
        start=hit.start + start, end=hit.start + end, passages=hits,
    )


def _article(engine: PolicySearch, question: str, rows: list[int], hits: list[Hit]) -> Answer:
    """A question citing 某法第N条 is answered by that article, whole."""
    chunks = engine.passages.chunks(rows)
    first, doc = chunks[0]
    start, end = first.start, chunks[-1][0].end
    text = engine.document(doc.id).text[start:end]
    return Answer(
        question=question, answered=True, text=text, confidence=1.0, doc_id=doc.id, title=doc.title,
        date=doc.date, source=doc.source, path=doc.path, article=first.article, start=start, end=end, passages=hits,
    )


def answer_span(answer: Answer, hit: Hit) -> tuple[int, int] | None:
    """Where the answer sentence sits inside one of its passages, if it does."""
    if answer.answered and answer.doc_id == hit.doc_id and hit.start <= answer.start and answer.end <= hit.end:
        return answer.start - hit.start, answer.end - hit.start
    return None
