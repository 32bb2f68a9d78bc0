"""Direct citation lookup: a question that names a law and an article ("未成年人保护法第十二条",
"《中华人民共和国义务教育法》第二条", "家庭教育促进法第20条是什么") resolves to that article."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text.articles import ARTICLE, canonical
from ..text.tokenize import normalize

_PREFIX = "中华人民共和国"


def short_title(title: str) -> str:
    """A law's name as people say it: NFKC, no 《》, brackets or spaces, no leading 中华人民共和国."""
    name = re.sub(r"[《》()（）\s]", "", normalize(title))
    return name[len(_PREFIX):] if name.startswith(_PREFIX) else name


_LAW = re.compile(r"[\u4e00-\u9fff]{2,24}(?:法典|法|条例|规定|办法|细则|规则|决定|章程)$")
_LEAD = re.compile(r"^(?:请问|我想问|想问|根据|依据|依照|按照|关于|查询|查一下|我国|现行)+")


@dataclass
class Citation:
    """What a question cites: the name as cited, the documents of that name (empty when the index
    has none), and the article key (第N条)."""

    doc_ids: list[str]
    article: str
    name: str = ""


class CitationIndex:
    """Document names known to an index, longest first, to spot them inside a question."""

    def __init__(self, titles: dict[str, tuple[str, str]]) -> None:
        """`titles`: doc id → (title, status); documents with status 现行有效 (or none) win ties."""
        self.by_name: dict[str, list[str]] = {}
        for doc_id, (title, _status) in titles.items():
            name = short_title(title)
            if len(name) >= 2:
                self.by_name.setdefault(name, []).append(doc_id)
        rank = {doc_id: 0 if status in ("", "现行有效") else 1 for doc_id, (_, status) in titles.items()}
        for ids in self.by_name.values():
            ids.sort(key=lambda d: rank[d])
        self.names = sorted(self.by_name, key=len, reverse=True)

    def find(self, question: str) -> Citation | None:
        text = short_title(question)
        match = ARTICLE.search(text)
        if not match or match.group(2) != "条":
            return None
        before = text[:match.start()].rstrip("的之")
        named = [n for n in self.names if n in before]
        if named:
            name = ([n for n in named if before.endswith(n)] or named)[0]
            return Citation(self.by_name[name], canonical(match), name)
        law = _LAW.search(before)
        if law:
            return Citation([], canonical(match), _LEAD.sub("", law.group(0)))
        return None
