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
from .records import Answer, Hit

if TYPE_CHECKING:
    from .searcher import Searcher

NO_ANSWER = "no passage in the corpus answers this"
TERMS_ONLY_THRESHOLD = 0.5  # a BM25-only index: at least half the question's idf weight must be in the sentence


def answer(reader: Searcher, question: str, hits: list[Hit], cited: list[int]) -> Answer:
    """The answer to `question` from its `hits`: the cited article when it names one (`cited`
    rows), else the best-scoring sentence, or no answer below the threshold."""
    if cited:
        return _article(reader, question, cited, hits)
    notice = reader.notice(question)
    if notice:
        return Answer(question, False, "", 0.0, passages=hits, message=notice)
    candidates = [(hit, start, end) for hit in hits for start, end in sentences(hit.text)]
    if not candidates:
        return Answer(question, False, "", 0.0, passages=hits, message=NO_ANSWER)
    weights = reader.term_weights(reader.tokens(question))
    total = sum(weights.values()) or 1.0
    texts = [hit.text[start:end] for hit, start, end in candidates]
    present = [set(reader.tokens(text)) for text in texts]
    overlap = np.array([sum(w for t, w in weights.items() if t in words) / total for words in present])
    settings = reader.search_settings
    if reader.has_vectors:
        scores = settings.answer_dense_weight * reader.similarity(question, texts) + settings.answer_term_weight * overlap
    else:
        scores = overlap
    best = int(np.argmax(scores))
    hit, start, end = candidates[best]
    confidence = float(scores[best])
    if confidence < (settings.answer_threshold if reader.has_vectors else TERMS_ONLY_THRESHOLD):
        return Answer(question, False, "", confidence, passages=hits, message=NO_ANSWER)
    return Answer(
        question=question, answered=True, text=texts[best], confidence=confidence, doc_id=hit.doc_id,
        title=hit.title, date=hit.date, source=hit.source, path=hit.path, article=hit.article, section=hit.section,
        start=hit.start + start, end=hit.start + end, passages=hits,
    )


def _article(reader: Searcher, question: str, rows: list[int], hits: list[Hit]) -> Answer:
    """A question citing 某法第N条 is answered by that article, whole."""
    span = reader.span(rows)
    return Answer(
        question=question, answered=True, text=span.text, confidence=1.0, doc_id=span.doc_id, title=span.title,
        date=span.date, source=span.source, path=span.path, article=span.article, section=span.section,
        start=span.start, end=span.end,
        passages=hits,
    )


def answer_span(answer: Answer, hit: Hit) -> tuple[int, int] | None:
    """Where the answer sentence sits inside one of its passages, if it does."""
    if answer.answered and answer.doc_id == hit.doc_id and hit.start <= answer.start and answer.end <= hit.end:
        return answer.start - hit.start, answer.end - hit.start
    return None
