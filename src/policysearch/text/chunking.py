"""Split documents into passages along Chinese structure, with exact character offsets.

Levels, coarsest first: paragraphs, structural units (第X条, 一是…, （一）…, 1. …), sentences
(ending 。！？； with any closing quote), clauses (，、 or spaces), and a hard cut as last resort.
A span is kept whole whenever it fits; only spans longer than `chunk_max` are split further,
a paragraph that must be split starts a chunk of its own, and so does every 第X条 (so a hit
cites one article).
"""

from __future__ import annotations

import re
from itertools import pairwise

from .articles import ARTICLE_HEADING, NUMERALS, STRUCTURE_START
from ..records import Chunk, Document
from ..settings import IndexSettings

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
        """The document's passages in order. Heading lines (第X编/章/节, 一、, （一）, Markdown #)
        and a leading title line are no passages: they form each passage's `heading` path."""
        sections = headed_sections(doc)
        spans = [(span, path) for start, end, path in sections for span in self._pack(doc.text, start, end)]
        if not spans:  # nothing but headings: keep them as text rather than lose the document
            spans = [(span, "") for span in self._pack(doc.text, doc.body_start, len(doc.text))]
        articles = [(m.start(1), m.group(1)) for m in ARTICLE_HEADING.finditer(doc.text, doc.body_start)]
        chunks, h, article = [], 0, ""
        for i, ((start, end), path) in enumerate(spans):
            while h < len(articles) and articles[h][0] < end:
                if articles[h][0] <= start or not article:
                    article = articles[h][1]
                h += 1
            chunks.append(Chunk(doc.id, i, start, end, doc.text[start:end], article, path))
        _mark_articles(chunks)
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


def _mark_articles(chunks: list[Chunk]) -> None:
    """Give each run of consecutive chunks of one article the span of the whole run."""
    first = 0
    for i, chunk in enumerate(chunks):
        if i + 1 < len(chunks) and chunks[i + 1].article == chunk.article:
            continue
        if chunk.article:
            span = (chunks[first].start, chunk.end, i + 1 - first)
            for member in chunks[first:i + 1]:
                member.article_span = span
        first = i + 1


def context_line(chunk: Chunk, title: str, context: str) -> str:
    """What is searched with a passage besides its text (`IndexSettings.context`): nothing, its
    heading path, or its document title and heading path."""
    parts = [title, chunk.heading] if context == "title+heading" else [chunk.heading] if context == "heading" else []
    return " > ".join(p for p in parts if p)


def indexed_text(chunk: Chunk, lead: str) -> str:
    """The text the encoder sees for a passage: its `context_line`, then its text on a line of its own."""
    return f"{lead}\n{chunk.text}" if lead else chunk.text


def headed_sections(doc: Document) -> list[tuple[int, int, str]]:
    """The document's body cut at its heading lines: (start, end, heading path) of the text
    between two headings. A short line that opens like a heading is one only if text or a
    lower-level heading follows it; a run of same-level short lines is a list, not headings."""
    lines = []
    position = doc.body_start
    for line in doc.text[doc.body_start:].split("\n"):
        lines.append((position, position + len(line), line.strip()))
        position += len(line) + 1
    first = next((i for i, (_, _, text) in enumerate(lines) if text), None)
    ranks: list[int | None] = [doc.headings.get(text) or _heading_rank(text) for _, _, text in lines]
    if first is not None and doc.title and _squash(lines[first][2].lstrip("#")) == _squash(doc.title) \
            and len(lines) > first + 1:
        ranks[first] = 0  # the title line: context of the whole document
    marked = [i for i, rank in enumerate(ranks) if rank is not None]
    listed = set()
    for here, after in pairwise(marked):
        if ranks[here] == ranks[after] and not any(text for _, _, text in lines[here + 1:after]):
            listed |= {here, after}  # same-level short lines in a row: a list
    for n, here in enumerate(marked):
        after = marked[n + 1] if n + 1 < len(marked) else None
        body = lines[here + 1:after]
        if here in listed or not any(text for _, _, text in body) and (after is None or ranks[after] <= ranks[here]):
            ranks[here] = None  # a list item, or nothing under it: text
    sections: list[tuple[int, int, str]] = []
    path: list[tuple[int, str]] = []
    start = doc.body_start
    for (line_start, line_end, text), rank in zip(lines, ranks, strict=True):
        if rank is None:
            continue
        if line_start > start:
            sections.append((start, line_start, " > ".join(name for _, name in path)))
        if rank:  # the title (rank 0) is the hit's title already
            path = [(r, name) for r, name in path if r < rank] + [(rank, text.lstrip("#").strip())]
        start = line_end
    if start < len(doc.text):
        sections.append((start, len(doc.text), " > ".join(name for _, name in path)))
    return [(s, e, p) for s, e, p in sections if doc.text[s:e].strip()]


_HEADINGS = [re.compile(p) for p in (
    r"#{1,6}\s",                      # Markdown: its own rank by the number of #
    rf"第[{NUMERALS}\d]{{1,9}}编",
    rf"第[{NUMERALS}\d]{{1,9}}分编",
    rf"第[{NUMERALS}\d]{{1,9}}章",
    rf"第[{NUMERALS}\d]{{1,9}}节",
    rf"[{NUMERALS}]{{1,4}}、",
    rf"[（(][{NUMERALS}]{{1,4}}[）)]",
)]
_HEADING_MAX = 40  # characters: a longer line is a paragraph, whatever it starts with


def _heading_rank(line: str) -> int | None:
    """The level of a heading line (1 outermost), or None for text."""
    if not line or len(line) > _HEADING_MAX or _SENTENCE_END.search(line) or "：" in line or ":" in line:
        return None
    for rank, pattern in enumerate(_HEADINGS):
        if pattern.match(line):
            return len(line) - len(line.lstrip("#")) if rank == 0 else 6 + rank
    return None


def _squash(text: str) -> str:
    return re.sub(r"[\s《》]", "", text)


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
