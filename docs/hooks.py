"""MkDocs hook: the pages made from the code itself, written before each build so they cannot
drift from it: `settings.md` from the settings' field docstrings, `http-api.md` from the
server's OpenAPI schema, `index.md` from the README, and the benchmark figures copied in."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import MISSING, fields
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent


def on_pre_build(config) -> None:  # noqa: ANN001 (MkDocs' config object)
    (DOCS / "settings.md").write_text(settings_page(), encoding="utf-8")
    (DOCS / "http-api.md").write_text(http_page(), encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = re.sub(r"\]\(docs/([^)]+)\)", r"](\1)", readme).replace("](benchmarks/results/", "](results/")
    (DOCS / "index.md").write_text(readme, encoding="utf-8")
    results = DOCS / "results"
    results.mkdir(exist_ok=True)
    for figure in (ROOT / "benchmarks" / "results").glob("*.png"):
        (results / figure.name).write_bytes(figure.read_bytes())


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring: the string literal on the line after it in the class body."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    out = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            out[node.target.id] = " ".join(str(after.value.value).split())
    return out


def settings_page() -> str:
    from policysearch import IndexSettings, SearchSettings

    lines = ["# Settings", "", "Made from the settings' own field documentation (`src/policysearch/settings.py`).",
             "Both are saved in the index's manifest; `IndexSettings` needs a rebuild to change, `SearchSettings`",
             "may be replaced when opening an index (`PolicySearch.open(..., search=SearchSettings(...))`).", ""]
    for cls in (IndexSettings, SearchSettings):
        lines += [f"## {cls.__name__}", "", " ".join((cls.__doc__ or "").split()), "",
                  "| field | default | meaning |", "|---|---|---|"]
        docs = field_docs(cls)
        for f in fields(cls):
            default = f.default if f.default is not MISSING else ""
            meaning = docs[f.name].replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{default!r}` | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def http_page() -> str:
    from policysearch import IndexSettings, PolicySearch
    from policysearch.interfaces.server import create_app

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        note = Path(folder) / "note.txt"
        note.write_text("示例通知\n这是一份用来生成接口文档的示例文件。\n", encoding="utf-8")
        with PolicySearch.build([note], Path(folder) / "index", IndexSettings(model=None)) as engine:
            schema = create_app(engine).openapi()
    lines = ["# HTTP API reference", "", f"Made from the OpenAPI schema of `policysearch serve` ({schema['info']['version']}); "
             "the server also serves it at `/openapi.json`. Errors are `{\"error\": \"...\"}` with status 400, 403 or 404.", ""]
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            lines += [f"## `{method.upper()} {path}`", "", op.get("summary", ""), ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | default | description |", "|---|---|---|---|---|"]
                for p in params:
                    s = p.get("schema", {})
                    kind = s.get("type", "") + (f" {s.get('minimum')}–{s.get('maximum')}" if "maximum" in s else "")
                    default = json.dumps(s["default"], ensure_ascii=False) if "default" in s else ""
                    lines.append(f"| `{p['name']}` | {p['in']} | {kind} | `{default}` | {p.get('description', '')} |")
                lines.append("")
    return "\n".join(lines)
