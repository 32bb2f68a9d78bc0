"""The three records that flow through the pipeline: documents in, chunks indexed, hits out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Document:
    """One source file (or one law of a corpus), with the text that chunk offsets point into."""

    id: str
    text: str
    title: str = ""
    date: str = ""
    source: str = ""
    path: str = ""
    body_start: int = 0
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Chunk:
    """A passage of a document: `document.text[start:end] == text`; `article` is the 第X条 it
    belongs to, if the document is organised in articles."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    article: str = ""


@dataclass
class Hit:
    """One ranked passage with what a reader needs to check it: document, date, offsets."""

    rank: int
    score: float
    text: str
    doc_id: str
    title: str
    date: str
    source: str
    path: str
    start: int
    end: int
    article: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """Which documents a search may return: `source` contains the given text, `date_from` and
    `date_to` bound the date (YYYY, YYYY-MM or YYYY-MM-DD, both ends included), `kind` is the file
    type (txt, md, docx, pdf, html). Empty fields do not filter."""

    source: str = ""
    date_from: str = ""
    date_to: str = ""
    kind: str = ""

    def __bool__(self) -> bool:
        return bool(self.source or self.date_from or self.date_to or self.kind)


@dataclass
class Answer:
    """The sentence that answers a question, where it stands in its document, and the passages
    it was picked from. `answered` is False when no passage is close enough to answer."""

    question: str
    answered: bool
    text: str
    confidence: float
    doc_id: str = ""
    title: str = ""
    date: str = ""
    source: str = ""
    path: str = ""
    article: str = ""
    start: int = 0
    end: int = 0
    passages: list[Hit] = field(default_factory=list)
    message: str = ""


@dataclass
class Changes:
    """What an incremental index run did, by document id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged")
