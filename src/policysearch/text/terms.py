"""Term discovery: the multi-word terms of a corpus (“五环工作格局”, 法律援助机构), found at index time
so that BM25 can match them whole besides their words. Two signals, both read off the corpus alone:
short spans the authors set in quotes, and word sequences that recur, cohere (pointwise mutual
information) and stand free of their neighbours (left and right branching entropy)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Sequence

_QUOTED = re.compile(r"[“「『《\"]([^“”「」『』《》\"\n]{2,40})[”」』》\"]")
_ITEM = re.compile(r"[、，,；;：:\s]+")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class TermFinder:
    """Finds terms in passages given as token lists; a term is saved as the tuple of its tokens."""

    min_count: int = 5
    """Occurrences a recurring word sequence needs before it is a term."""
    min_pmi: float = 3.0
    """Least pointwise mutual information (natural log) between the two sides of any split of it."""
    min_entropy: float = 1.0
    """Least entropy (nats) of the words seen just before it and just after it."""
    max_words: int = 4
    """Longest term, in tokens."""
    max_chars: int = 12
    """Longest term, in characters."""

    def quoted(self, texts: Iterable[str], tokenize: Callable[[str], list[str]]) -> set[tuple[str, ...]]:
        """Spans in quotes or title marks, and the items of a list in quotes, of 2 to `max_words` tokens."""
        found: set[tuple[str, ...]] = set()
        for text in texts:
            for match in _QUOTED.finditer(text):
                for item in _ITEM.split(match.group(1)):
                    if len(item) <= self.max_chars:
                        parts = tuple(tokenize(item))
                        if 2 <= len(parts) <= self.max_words:
                            found.add(parts)
        return found

    def recurring(self, tokens: Sequence[Sequence[str]]) -> set[tuple[str, ...]]:
        """Word sequences frequent, cohesive and free in their context, by classic new-word discovery."""
        counts: Counter[tuple[str, ...]] = Counter()
        for passage in tokens:
            counts.update(zip(passage))
        total = sum(counts.values())
        frequent: set[tuple[str, ...]] = {g for g, c in counts.items() if c >= self.min_count}
        candidates: list[tuple[str, ...]] = []
        for n in range(2, self.max_words + 1):
            grams: Counter[tuple[str, ...]] = Counter()
            for passage in tokens:
                grams.update(g for g in zip(*(passage[i:] for i in range(n)), strict=False)
                             if g[:-1] in frequent and g[1:] in frequent)
            counts.update(grams)
            level = {g for g, c in grams.items() if c >= self.min_count}
            frequent |= level
            candidates += [g for g in level if len("".join(g)) <= self.max_chars and not _DIGIT.search("".join(g))
                           and self._cohesive(g, counts, total)]
        return self._free(candidates, tokens)

    def _cohesive(self, gram: tuple[str, ...], counts: Counter[tuple[str, ...]], total: int) -> bool:
        joint = counts[gram] / total
        return all(math.log(joint / (counts[gram[:i]] / total * counts[gram[i:]] / total)) >= self.min_pmi
                   for i in range(1, len(gram)))

    def _free(self, candidates: list[tuple[str, ...]], tokens: Sequence[Sequence[str]]) -> set[tuple[str, ...]]:
        """The candidates whose left and right neighbours both vary enough (passage ends count as
        distinct neighbours)."""
        by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for gram in candidates:
            by_first[gram[0]].append(gram)
        left: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        right: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for p, passage in enumerate(tokens):
            for i, word in enumerate(passage):
                for gram in by_first.get(word, ()):
                    end = i + len(gram)
                    if tuple(passage[i:end]) == gram:
                        left[gram][passage[i - 1] if i else f"\x00{p}"] += 1
                        right[gram][passage[end] if end < len(passage) else f"\x01{p}"] += 1
        return {g for g in candidates if min(_entropy(left[g]), _entropy(right[g])) >= self.min_entropy}


def _entropy(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values()) if total else 0.0
