"""Character accuracy and speed of the offline OCR on rendered Chinese pages.

    python benchmarks/ocr.py            # benchmarks/results/ocr.md

The bundled report is drawn, 12 lines of 24 characters a page, onto white pages in two CJK
fonts (sans and serif) at two sizes, as a 200-dpi scan would show it; half the pages are also
put in a PDF with no text layer. Each is read back by `load_file` (PNG through OCR, the PDF
rendered by pypdfium2 then OCR). Character accuracy: the characters of the drawn text that the
OCR text matches, aligned by difflib, over the characters drawn (whitespace ignored; both
sides NFKC-normalised, as search normalises them: a half-width comma read as "，" is right).
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from policysearch.reading.loaders import load, load_file
from quality import CORPUS, report

LINE, LINES = 24, 12


def pages_of_text() -> list[list[str]]:
    text = re.sub(r"\s+", "", "".join(doc.text for doc in load([CORPUS])))
    lines = [text[i:i + LINE] for i in range(0, len(text), LINE)]
    return [lines[i:i + LINES] for i in range(0, len(lines), LINES)]


def draw(lines: list[str], font: str, size: int):
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (int(size * LINE * 1.1) + 80, int(size * 1.8 * LINES) + 80), "white")
    pen = ImageDraw.Draw(page)
    face = ImageFont.truetype(font, size)
    for i, line in enumerate(lines):
        pen.text((40, 40 + int(size * 1.8) * i), line, font=face, fill="black")
    return page


def accuracy(expected: str, got: str) -> float:
    expected, got = (unicodedata.normalize("NFKC", re.sub(r"\s+", "", t)) for t in (expected, got))
    blocks = difflib.SequenceMatcher(None, expected, got, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(expected)


def main() -> int:
    fonts = [f for f in subprocess.run(["fc-list", ":lang=zh", "-f", "%{file}\n"], capture_output=True,
                                       text=True).stdout.split("\n") if f]
    chosen = sorted({f for f in fonts if "SansCJK-Regular" in f} | {f for f in fonts if "SerifCJK-Regular" in f})
    if not chosen:
        print("no CJK font (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 1
    pages = pages_of_text()
    rows, totals = [], {}
    with tempfile.TemporaryDirectory() as folder:
        os.environ["POLICYSEARCH_CACHE"] = folder  # measure OCR itself, never a cached result
        for font in chosen:
            for size in (24, 32):
                right = drawn = 0.0
                started = time.perf_counter()
                for n, lines in enumerate(pages):
                    image = draw(lines, font, size)
                    path = Path(folder) / f"p{n}.{'pdf' if n % 2 else 'png'}"
                    image.save(path, **({"resolution": 200.0} if n % 2 else {}))
                    expected = "".join(lines)
                    right += accuracy(expected, load_file(path, path.name).text) * len(expected)
                    drawn += len(expected)
                seconds = (time.perf_counter() - started) / len(pages)
                name = f"{Path(font).stem} {size}px"
                totals[name] = right / drawn
                rows.append(f"| {name} | {len(pages)} | {int(drawn)} | {right / drawn:.4f} | {seconds:.2f} |")
    lines = ["# OCR", "", "Command: `python benchmarks/ocr.py`", "",
             "| font, size | pages (half PNG, half PDF) | characters | character accuracy | seconds a page |",
             "|---|---:|---:|---:|---:|", *rows]
    report("ocr.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
