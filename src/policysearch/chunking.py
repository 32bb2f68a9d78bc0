"""Split documents into passages along Chinese structure, with exact character offsets.

Levels, coarsest first: paragraphs, structural units (第X条, 一是…, （一）…, 1. …), sentences
(ending 。！？； with any closing quote), clauses (，、 or spaces), and a hard cut as last resort.
A span is kept whole whenever it fits; only spans longer than `chunk_max` are split further,
a paragraph that must be split starts a chunk of its own, and so does every 第X条 (so a hit
cites one article).
"""

from __future__ import annotations

import re

from .articles import ARTICLE_HEADING, NUMERALS, STRUCTURE_START
from .records import Chunk, Document
from .settings import IndexSettings

_UNIT_START = re.compile(
    rf"{STRUCTURE_START.pattern}"
    rf"|\s*([{NUMERALS}]+是"
    rf"|[（(][{NUMERALS}\d]+[）)]"
    rf"|[{NUMERALS}]+、"
    rf"|\d+[.、．](?!\d))"
)
_SENTENCE_END = re.compile(r"[。！？；!?;…]+[”’」』）)\"']*")
_CLAUSE_END = re.compile(r"[，、,：:]|\s+")

PARAGRAPH, UNIT, SENTENCE, CLAUSE, CUT = range(5)


class Chunker:
    """Packs a document's spans into chunks of about `chunk_size` characters, never over `chunk_max`."""

    def __init__(self, settings: IndexSettings | None = None) -> None:
        self.settings = settings or IndexSettings()

    def chunk(self, doc: Document) -> list[Chunk]:
        spans = self._pack(doc.text, doc.body_start, len(doc.text))
        headings = [(m.start(1), m.group(1)) for m in ARTICLE_HEADING.finditer(doc.text, doc.body_start)]
        chunks, h, article = [], 0, ""
        for i, (start, end) in enumerate(spans):
            while h < len(headings) and headings[h][0] < end:
                if headings[h][0] <= start or not article:
                    article = headings[h][1]
                h += 1
            chunks.append(Chunk(doc.id, i, start, end, doc.text[start:end], article))
        return chunks

    def _pack(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        size, limit = self.settings.chunk_size, self.settings.chunk_max
        chunks: list[tuple[int, int]] = []
        current: list[tuple[int, int]] = []
        last_sentence: tuple[int, int] | None = None

        def flush() -> None:
            if current:
                chunks.append((current[0][0], current[-1][1]))
                current.clear()

        def place(span: tuple[int, int], level: int) -> None:
            nonlocal last_sentence
            length = span[1] - span[0]
            if level <= UNIT and STRUCTURE_START.match(text, span[0]):
                flush()
            used = span[1] - current[0][0] if current else length
            if used <= size or (not current and length <= limit):
                current.append(span)
            elif length <= limit:
                flush()
                overlap = last_sentence if level >= SENTENCE and self.settings.overlap_sentences else None
                if overlap and overlap[1] <= span[0] and span[1] - overlap[0] <= limit:
                    current.append(overlap)
                current.append(span)
            else:
                if level == PARAGRAPH:
                    flush()
                for child in _split(text, span, level + 1, min(100, limit)):
                    place(child, level + 1)
                return
            last_sentence = span if level >= SENTENCE else None

        for paragraph in _split(text, (start, end), PARAGRAPH):
            place(paragraph, PARAGRAPH)
        flush()
        return chunks


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """`[start, end)` spans of the sentences of `text` (paragraph breaks end sentences too)."""
    end = len(text) if end is None else end
    return [s for p in _split(text, (start, end), PARAGRAPH) for s in _split(text, p, SENTENCE)]


def _split(text: str, span: tuple[int, int], level: int, width: int = 100) -> list[tuple[int, int]]:
    """Children of `span` at `level`, trimmed of surrounding whitespace, never empty; below
    clauses, hard cuts of at most `width` characters."""
    start, end = span
    if level == PARAGRAPH:
        cuts = [m.end() for m in re.finditer(r"\n", text[start:end])]
    elif level == UNIT:
        cuts = [
            m.end() for m in _SENTENCE_END.finditer(text, start, end)
            if _UNIT_START.match(text, m.end(), end)
        ]
        cuts = [c - start for c in cuts]
    elif level == SENTENCE:
        cuts = [m.end() - start for m in _SENTENCE_END.finditer(text, start, end)]
    elif level == CLAUSE:
        cuts = [m.end() - start for m in _CLAUSE_END.finditer(text, start, end)]
    else:
        return _hard_cut(span, width)
    pieces: list[tuple[int, int]] = []
    previous = 0
    for cut in cuts + [end - start]:
        piece = _trim(text, start + previous, start + cut)
        if piece:
            pieces.append(piece)
        previous = cut
    return pieces


def _hard_cut(span: tuple[int, int], width: int) -> list[tuple[int, int]]:
    start, end = span
    return [(i, min(i + width, end)) for i in range(start, end, width)]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
