"""The three records that flow through the pipeline: documents in, chunks indexed, hits out."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import PolicySearchError

KINDS = ("bmp", "csv", "doc", "docx", "dps", "et", "htm", "html", "jpeg", "jpg", "md", "ods", "odt", "ofd", "pdf", "png",
         "ppt", "pptx", "rtf",
         "tif", "tiff", "txt", "wps", "xls", "xlsx")


def kind_of(path: str) -> str:
    """The file type of a document from its path or id (`docx`), or "" when it is none of `KINDS`
    (a law read from laws.db)."""
    name = path.rsplit("/", 1)[-1]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix if suffix in KINDS else ""


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
    headings: dict[str, int] = field(default_factory=dict)
    """Lines the file marks as headings by style (a .docx `Heading 2`), with their level, 1 outermost;
    the chunker takes them as headings besides the ones it recognises. Read at load time, not stored."""


@dataclass
class DocumentInfo:
    """One indexed document as `policysearch docs` lists it: id, file type (`""` for a corpus
    entry such as a law from laws.db), title, date, source and how many passages it gave."""

    id: str
    kind: str
    title: str
    date: str
    source: str
    passages: int


@dataclass
class Chunk:
    """A passage of a document: `document.text[start:end] == text`; `article` is the 第X条 it
    belongs to, if the document is organised in articles; `heading` the path of headings above
    it (`第五编 婚姻家庭 > 第四章 离婚`), if the document has headings; `article_span` where that
    whole article sits, (start, end, passages), so a hit can show all of it without a lookup."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    article: str = ""
    heading: str = ""
    article_span: tuple[int, int, int] | None = None


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
    section: str = ""
    number: str = ""


@dataclass(frozen=True)
class Filters:
    """Which documents a search may return: `source` names the issuer (`names_source`: the text,
    or a short form of it such as 关工委), `date_from` and
    `date_to` bound the date (both ends included; see `parse_date` for the forms accepted),
    `kind` is the file type (one of `KINDS`), `number` is contained in the document number of an
    official document (烟关工委发〔2021〕3号). Empty fields do not filter. Dates are stored in
    ISO form and an unknown kind is refused when the filter is made."""

    source: str = ""
    date_from: str = ""
    date_to: str = ""
    kind: str = ""
    number: str = ""

    def __post_init__(self) -> None:
        for name in ("source", "date_from", "date_to", "kind", "number"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise PolicySearchError(f"Filters.{name} is {value!r}; it must be text (\"\" does not filter)")
        object.__setattr__(self, "date_from", parse_date(self.date_from, "date_from"))
        object.__setattr__(self, "date_to", parse_date(self.date_to, "date_to"))
        kind = self.kind.strip().lower().lstrip(".")
        if kind and kind not in KINDS:
            raise PolicySearchError(f"kind '{self.kind}' is not a file type of the index; use one of {', '.join(KINDS)}")
        object.__setattr__(self, "kind", kind)

    def __bool__(self) -> bool:
        return bool(self.source or self.date_from or self.date_to or self.kind or self.number)


SHORT_FORM_SPAN = 4  # a short form's characters must lie within this many times its length of the full name


def names_source(wanted: str, source: str) -> bool:
    """Whether a source filter names this source: its text is in it (市教育局 in 烟台市教育局), or
    it is a short form of three or more characters found in order within a stretch of the name at
    most `SHORT_FORM_SPAN` times as long (关工委 for 烟台市关心下一代工作委员会, 团市委 for
    共青团烟台市委员会). Two characters are too few to tell a short form from chance (市委)."""
    if wanted in source:
        return True
    if len(wanted) < 3:
        return False
    start = source.find(wanted[0])
    while start >= 0:
        end = start
        for ch in wanted[1:]:
            end = source.find(ch, end + 1)
            if end < 0:
                return False
        if end - start + 1 <= SHORT_FORM_SPAN * len(wanted):
            return True
        start = source.find(wanted[0], start + 1)
    return False


def named_sources(wanted: str, sources: list[str]) -> list[str]:
    """The `sources` a source filter names (`names_source`), for either backend's filter."""
    return [source for source in sources if names_source(wanted, source)]


_DATE_FORMS = [re.compile(p, re.ASCII) for p in (
    r"(\d{4})年?",
    r"(\d{4})[-/.](\d{1,2})",
    r"(\d{4})年(\d{1,2})月",
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})",
    r"(\d{4})年(\d{1,2})月(\d{1,2})日?",
    r"(\d{4})(\d{2})(\d{2})?",
)]


def parse_date(value: str, name: str) -> str:
    """A date bound as `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, from those forms or from `2021/06/01`,
    `2021.6.1`, `20210601` and `2021年6月1日` (full-width digits too); `name` is the field or
    option named in the error for anything else, an impossible month or day included."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return ""
    for form in _DATE_FORMS:
        found = form.fullmatch(text)
        if found:
            parts = [int(g) for g in found.groups() if g]
            try:
                date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
            except ValueError:
                break
            return "-".join([f"{parts[0]:04d}"] + [f"{p:02d}" for p in parts[1:]])
    raise PolicySearchError(f"{name} '{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD "
                            "(2021/06/01, 20210601 and 2021年6月1日 work too)")


@dataclass
class Answer:
    """The span that answers a question (a sentence, a run of them, a list, a heading's body, a
    table row or a short passage: see `answers`), where it stands in its document, and the
    passages it was picked from. `answered` is False when no passage is close enough to answer;
    `confidence` is the calibrated probability that the span holds the answer; `span_start`
    and `span_end` (document offsets, or None) mark the date, number or name that answers it."""

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
    section: str = ""
    start: int = 0
    end: int = 0
    passages: list[Hit] = field(default_factory=list)
    message: str = ""
    span_start: int | None = None
    span_end: int | None = None
    number: str = ""


@dataclass
class Retrieval:
    """What `ask` reads its answer from, handed over by the `Searcher` in one record: the question
    as searched, its hits, its BM25 terms with their idf in the index, its vector (None without
    one), the whole article it cites (None if it cites none the index has) and the notice a reader
    should see instead of an answer."""

    question: str
    hits: list[Hit]
    terms: list[str]
    weights: dict[str, float]
    vector: Any = None
    article: Hit | None = None
    notice: str = ""


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
