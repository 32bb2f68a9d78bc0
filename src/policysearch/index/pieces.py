"""Subword pieces for queries: the model's Unigram segmentation (XLM-R's, as `tokenizers` does it)
over a vocabulary that opens in milliseconds, so the first search does not wait for `tokenizers`
to build its trie of a quarter of a million pieces."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

UNKNOWN_PENALTY = 10.0  # an unknown character scores this far below the lowest piece, as in tokenizers


class Unigram:
    """Token ids as the model's `tokenizers` Unigram gives them. Its normaliser and pre-tokenizer
    run in a small `tokenizers` object that holds no vocabulary; each word's best-scoring split is
    found left to right with the same tie rule (the earlier start wins), unknown characters fused
    into one token. A text holding an added token's literal (`<s>`, `<mask>`…) goes to the full
    tokenizer, which `fallback` opens on first need."""

    def __init__(self, folder: Path, limit: int, fallback: Callable[[], object]) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / "unigram.json").read_text(encoding="utf-8"))
        self.front = Tokenizer.from_str(meta["front"])
        pieces = (folder / "pieces.txt").read_text(encoding="utf-8").split("\n")
        self.ids = {piece: number for number, piece in enumerate(pieces)}  # a repeated piece: the last wins
        self.scores = np.load(folder / "scores.npy").tolist()
        self.lengths: dict[str, list[int]] = meta["lengths"]  # first character -> the lengths of its pieces
        self.unknown = int(meta["unk_id"])
        self.unknown_score = min(self.scores) - UNKNOWN_PENALTY
        self.prefix, self.suffix = meta["prefix"], meta["suffix"]
        self.added: list[str] = meta["added"]
        self.room = limit - len(self.prefix) - len(self.suffix)
        self.fallback = fallback

    @staticmethod
    def save(tokenizer: Path, folder: Path) -> bool:
        """Write the fast form of a `tokenizer.json` into `folder`; False (nothing written) unless it
        is a Unigram without byte fallback whose post-processor only puts special tokens around
        the text."""
        config = json.loads(tokenizer.read_text(encoding="utf-8"))
        model = config.get("model") or {}
        template = config.get("post_processor") or {}
        if model.get("type") != "Unigram" or model.get("byte_fallback") or template.get("type") != "TemplateProcessing":
            return False
        pieces = [piece for piece, _ in model["vocab"]]
        if any("\n" in piece or not piece for piece in pieces) or model.get("unk_id") is None:
            return False
        single = template["single"]
        sequence = [i for i, part in enumerate(single) if "Sequence" in part]
        if len(sequence) != 1 or any("SpecialToken" not in part for i, part in enumerate(single) if i != sequence[0]):
            return False
        special = template["special_tokens"]

        def ids(parts: list[dict]) -> list[int]:
            return [number for part in parts for number in special[part["SpecialToken"]["id"]]["ids"]]

        lengths: dict[str, set[int]] = {}
        for piece in pieces:
            lengths.setdefault(piece[0], set()).add(len(piece))
        unknown = int(model["unk_id"])
        front = dict(config, truncation=None, padding=None,
                     model=dict(model, vocab=[model["vocab"][unknown]], unk_id=0))
        meta = {"front": json.dumps(front, ensure_ascii=False), "unk_id": unknown,
                "lengths": {first: sorted(found) for first, found in lengths.items()},
                "prefix": ids(single[:sequence[0]]), "suffix": ids(single[sequence[0] + 1:]),
                "added": [token["content"] for token in config.get("added_tokens") or []]}
        (folder / "pieces.txt").write_text("\n".join(pieces), encoding="utf-8")
        np.save(folder / "scores.npy", np.array([score for _, score in model["vocab"]], dtype=np.float64))
        (folder / "unigram.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return True

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, special tokens included, cut to the model's length."""
        out = []
        for text in texts:
            normalised = self.front.normalizer.normalize_str(text) if self.front.normalizer else text
            if any(token in text or token in normalised for token in self.added):
                out.append(self.fallback().encode(text).ids)
                continue
            words = self.front.pre_tokenizer.pre_tokenize_str(normalised) if self.front.pre_tokenizer \
                else [(normalised, None)]
            ids = [number for word, _ in words for number in self._split(word)]
            out.append(self.prefix + ids[:self.room] + self.suffix)
        return out

    def _split(self, word: str) -> list[int]:
        size = len(word)
        best = [0.0] * (size + 1)
        start = [-1] * (size + 1)
        token = [0] * (size + 1)
        for at in range(size):
            here, single = best[at], False
            for length in self.lengths.get(word[at], ()):
                end = at + length
                if end > size:
                    break
                number = self.ids.get(word[at:end])
                if number is None:
                    continue
                score = self.scores[number] + here
                if start[end] < 0 or score > best[end]:
                    best[end], start[end], token[end] = score, at, number
                single = single or length == 1
            if not single:
                score = self.unknown_score + here
                if start[at + 1] < 0 or score > best[at + 1]:
                    best[at + 1], start[at + 1], token[at + 1] = score, at, self.unknown
        spans, end = [], size
        while end > 0:
            spans.append((start[end], end, token[end]))
            end = start[end]
        ids: list[int] = []
        run = ""  # unknown characters next to each other become one token, looked up as a whole
        for begin, end, number in reversed(spans):
            if number == self.unknown:
                run += word[begin:end]
                continue
            if run:
                ids.append(self.ids.get(run, self.unknown))
                run = ""
            ids.append(number)
        if run:
            ids.append(self.ids.get(run, self.unknown))
        return ids
