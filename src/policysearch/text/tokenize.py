"""One tokenization path for passages and queries: NFKC, lower case, jieba segmentation, article
references kept whole (第十二条 → 第12条), stopwords and punctuation dropped, and the index's own
discovered terms (see `terms`) added whole beside their words."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import unicodedata
from functools import lru_cache
from itertools import accumulate, chain
from importlib import resources
from collections.abc import Callable, Iterable, Sequence

from .articles import ARTICLE, canonical

_SPECIAL = re.compile(ARTICLE.pattern + r"|\d+(?:\.\d+)?%?")
_WORD_CHAR = re.compile(r"[\w\u3400-\u9fff]")


class _CharTable(dict):
    """ord → NFKC and lower case of that one character, filled on demand, for `str.translate`;
    `uneven` holds the characters seen so far that become more or less than one."""

    def __init__(self) -> None:
        super().__init__()
        self.uneven: set[str] = set()

    def __missing__(self, code: int) -> str:
        self[code] = unicodedata.normalize("NFKC", chr(code)).lower()
        if len(self[code]) != 1:
            self.uneven.add(chr(code))
        return self[code]


_CHARS = _CharTable()
_PUNCTUATION = tuple((ch, unicodedata.normalize("NFKC", ch)) for ch in "，；（）：！？")


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and lower case, as both passages and queries get it.
    The full-width punctuation of Chinese text is replaced first, which leaves most passages
    already normalized, so the quick check spares them the full normalization."""
    for wide, narrow in _PUNCTUATION:
        text = text.replace(wide, narrow)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files("policysearch").joinpath("data/stopwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


class Tokenizer:
    """Segments Chinese text for BM25; `segmenter` is "rjieba" (jieba-rs, fast) or "jieba". Each of
    `terms` (a term is the tuple of its tokens) that occurs in a text is added as one more token."""

    def __init__(self, segmenter: str = "rjieba", terms: Iterable[Sequence[str]] = ()) -> None:
        self.segmenter = segmenter
        self._cut = _load_segmenter(segmenter)
        self._stop = stopwords()
        self._emit = _Emitted(self._tokens_for)
        self._terms: dict[str, list[tuple[str, ...]]] = {}
        for term in sorted({tuple(t) for t in terms if len(t) > 1}, key=len, reverse=True):
            self._terms.setdefault(term[0], []).append(term)

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        text = normalize(text)
        position = 0
        for match in _SPECIAL.finditer(text):
            self._words(text[position:match.start()], out)
            out.append(canonical(match) if match.group(2) else match.group(0))
            position = match.end()
        self._words(text[position:], out)
        return self.with_terms(out) if self._terms else out

    def with_terms(self, tokens: list[str]) -> list[str]:
        """`tokens` followed by each of this tokenizer's terms they hold, joined into one token."""
        found = []
        for i, token in enumerate(tokens):
            for term in self._terms.get(token, ()):
                if tuple(tokens[i:i + len(term)]) == term:
                    found.append("".join(term))
        return tokens + found if found else tokens

    def tokens_many(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[str]]:
        """Tokens of many texts, told to `progress` part by part. Above a few million characters the
        work is spread over all cores, when this is the only thread (a fork copies only the caller)."""
        workers = os.cpu_count() or 1
        size = 1000
        out: list[list[str]] = []
        if workers < 2 or sum(map(len, texts)) < 2_000_000 or multiprocessing.get_start_method() != "fork" \
                or threading.active_count() > 1:
            for start in range(0, len(texts), size):
                out.extend(self.tokens(text) for text in texts[start:start + size])
                if progress:
                    progress(len(texts[start:start + size]))
            return out
        global _worker
        _worker = self  # forked workers inherit this tokenizer, dictionary loaded
        size = -(-len(texts) // (workers * 8))
        with multiprocessing.Pool(workers) as pool:
            for part in pool.imap(_tokens_of, [texts[i:i + size] for i in range(0, len(texts), size)]):
                out.extend(map(_unjoin, part))  # while the workers go on with the next parts
                if progress:
                    progress(len(part))
        return out

    def _words(self, text: str, out: list[str]) -> None:
        if not text:
            return
        out.extend(chain.from_iterable(map(self._emit.__getitem__, self._cut(text))))

    def _tokens_for(self, word: str) -> tuple[str, ...]:
        """What one segmented word contributes: nothing for stopwords and punctuation, else the word."""
        if word in self._stop or not _WORD_CHAR.search(word):
            return ()
        return (word,)


class _Emitted(dict):
    """word → its tokens, computed on first sight (segmentation repeats words a lot); emptied
    when it reaches `limit` words, so a long-running server's memory stays bounded."""

    limit = 200_000

    def __init__(self, tokens_for: Callable[[str], tuple[str, ...]]) -> None:
        super().__init__()
        self._tokens_for = tokens_for

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= self.limit:
            self.clear()
        self[word] = self._tokens_for(word)
        return self[word]


_worker: Tokenizer | None = None


def _tokens_of(texts: Sequence[str]) -> list[str | list[str]]:
    """A worker's share, each text's tokens joined by NUL (one string pickles far faster than a
    list), or the list itself if a token holds a NUL."""
    out: list[str | list[str]] = []
    for text in texts:
        tokens = _worker.tokens(text)
        joined = "\x00".join(tokens)
        out.append(tokens if joined.count("\x00") != len(tokens) - 1 else joined)
    return out


def _unjoin(joined: str | list[str]) -> list[str]:
    if isinstance(joined, list):
        return joined
    return joined.split("\x00") if joined else []


@lru_cache(maxsize=2)
def _load_segmenter(name: str):
    """A `cut(text) -> list[str]`, built once per process."""
    if name == "rjieba":
        import rjieba

        return rjieba.Jieba().cut
    if name == "jieba":
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        return jieba.Tokenizer().lcut
    raise ValueError(f"segmenter: unknown value {name!r}; use 'rjieba' or 'jieba'")


def term_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where the (normalized) query terms worth showing (numbers, or two characters and more)
    occur in `text`, as merged `[start, end)` spans of `text`."""
    return highlights([text], terms)[0]


def highlights(texts: Sequence[str], terms: Iterable[str]) -> list[list[tuple[int, int]]]:
    """`term_spans` of each text, found in one pass over all of them joined: each term with
    `str.find` (a scan in C; one pattern of all terms would be compiled for every new query)."""
    shown = [term for term in set(terms) if len(term) >= 2 or term.isdigit()]
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    if not shown or not texts:
        return out
    flat, owner = _comparable("\x00".join(texts))  # no term holds \x00: no match runs from one text into the next
    found: list[tuple[int, int]] = []
    for term in shown:
        length = len(term)
        at = flat.find(term)
        while at >= 0:
            found.append((at, at + length))
            at = flat.find(term, at + 1)
    if not isinstance(owner, range):  # back from normalized positions to the text's own
        found = [(owner[start], owner[stop - 1] + 1) for start, stop in found]
    found.sort()
    ends = list(accumulate(len(t) + 1 for t in texts))  # where each text ends in the joined one, its \x00 included
    i, offset, spans, stop = 0, 0, out[0], -1
    for start, end in found:  # spans that overlap become one (none runs past its text's \x00)
        if start < stop:
            if end > stop:
                stop, spans[-1] = end, (spans[-1][0], end - offset)
            continue
        while start >= ends[i]:
            i += 1
            offset, spans = ends[i - 1], out[i]
        spans.append((start - offset, end - offset))
        stop = end
    return out


def _comparable(text: str) -> tuple[str, Sequence[int]]:
    """`text` as `normalize` makes it, and for each of its characters the position in `text` it
    comes from (one for one in most passages; mapped back where NFKC changes the length)."""
    flat = text
    for wide, narrow in _PUNCTUATION:
        flat = flat.replace(wide, narrow)
    if unicodedata.is_normalized("NFKC", flat) and len(lowered := flat.lower()) == len(text):
        return lowered, range(len(text))
    flat = text.translate(_CHARS)
    if _CHARS.uneven.isdisjoint(text):
        return flat, range(len(text))
    return flat, [i for i, ch in enumerate(text) for _ in _CHARS[ord(ch)]]
