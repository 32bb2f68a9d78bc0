"""The code's shape: every module of the package imports only modules below it (no import
circle), and a library user can read every setting's meaning from its docstring."""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from policysearch import IndexSettings, PolicySearchError, SearchSettings

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "policysearch"


LAYERS = ["text", "index", "reading", "searching", "answering", "building"]
"""The pipeline's packages, each importing only the top-level records and the packages before it."""


def module_name(path: Path) -> str:
    """`text.tokenize` for src/policysearch/text/tokenize.py, `integrations` for its __init__.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path) -> set[str]:
    """The package's modules that `path` imports anywhere (top level, in functions, for type checks)."""
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[:len(here) - node.level + 1]
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found |= {".".join(base + name.split(".")) for name in names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("policysearch."):
            found.add(node.module.removeprefix("policysearch."))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


def graph() -> dict[str, set[str]]:
    return {module_name(path): package_imports(path) for path in PACKAGE.rglob("*.py") if module_name(path)}


def test_the_import_graph_of_the_package_has_no_cycle() -> None:
    imports = graph()
    assert {"search", "searching.searcher", "building.indexer", "answering.answers", "index.dense"} <= set(imports)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import circle: " + " → ".join(path[path.index(module):] + [module])
        if module not in done:
            for imported in sorted(imports[module]):
                visit(imported, path + [module])
            done.add(module)

    for module in sorted(imports):
        visit(module, [])


def test_the_pipeline_packages_import_only_the_packages_before_them() -> None:
    for module, imported in graph().items():
        layer = module.split(".")[0]
        if layer in LAYERS:
            later = {name for name in imported if name.split(".")[0] in LAYERS[LAYERS.index(layer) + 1:]}
            assert not later, f"{module} imports {sorted(later)}, which come later in the pipeline"


def test_every_package_says_what_lives_in_it() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, init


@pytest.mark.parametrize("cls", [IndexSettings, SearchSettings])
def test_every_setting_is_documented_in_one_line_after_it(cls: type) -> None:
    source = inspect.getsource(cls)
    for f in fields(cls):
        after = source.split(f"\n    {f.name}: ", 1)[1].split("\n", 2)[1].strip()
        assert after.startswith('"""') and after.endswith('"""') and len(after) > 20, f.name


@pytest.mark.parametrize("make, words", [
    (lambda: IndexSettings(chunk_size=400), "settings.chunk_size (400) must be at most settings.chunk_max (300)"),
    (lambda: IndexSettings(chunk_size=0), "settings.chunk_size is 0; it must be from 1"),
    (lambda: IndexSettings(segmenter="pkuseg"), "settings.segmenter is 'pkuseg'; expected one of rjieba, jieba"),
    (lambda: IndexSettings(b=1.5), "settings.b is 1.5; it must be from 0.0 to 1.0"),
    (lambda: IndexSettings(k1="1.2"), "settings.k1 is '1.2'; expected float"),
    (lambda: IndexSettings(model=3), "settings.model is 3; expected str or none"),
    (lambda: SearchSettings(mode="semantic"), "settings.mode is 'semantic'; expected one of bm25, dense, hybrid"),
    (lambda: SearchSettings(candidates=True), "settings.candidates is True; expected int"),
    (lambda: SearchSettings(bm25_weight=-1), "settings.bm25_weight is -1.0; it must be from 0.0"),
    (lambda: SearchSettings.from_dict({"fusoin": "rrf"}), "settings.fusoin is not a setting of SearchSettings"),
])
def test_a_bad_setting_is_refused_when_made_naming_the_field(make, words: str) -> None:
    with pytest.raises(PolicySearchError) as refused:
        make()
    assert words in str(refused.value)


def test_settings_are_frozen_and_whole_numbers_count_as_weights() -> None:
    assert SearchSettings(bm25_weight=1).bm25_weight == 1.0
    with pytest.raises(AttributeError):
        SearchSettings().mode = "bm25"  # type: ignore[misc]
