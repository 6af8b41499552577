"""Documentation that can be checked runs: docstring examples (doctest), the Python blocks of the
README and of the docs pages, and every path the code and docs point to exists.

* Every module of ``theory`` and ``numerics`` whose source has a ``>>>`` example is run with
  :mod:`doctest`.
* Every fenced ``python`` block of ``README.md`` and ``docs/**/*.md`` is executed, one fresh
  namespace per file, blocks in order. An expression statement with a trailing comment that
  starts with a Python literal (``f(x)  # 3 -- why``) must evaluate to that literal.
* Every repository path of the form ``docs/...``, ``notebooks/...``, ``examples/...``, ...
  mentioned in tracked code or docs exists, or lies in a folder that ``.gitignore`` names (an
  output location such as ``bench/results/``).
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("theory", "numerics")
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
POINTER = re.compile(r"\b(?:docs|notebooks|examples|bench|tests|theory|numerics|shared)/"
                     r"[A-Za-z0-9_./-]+\.(?:md|ipynb|yaml|yml|jsonl|json|py|png|pdf|txt|cff)\b")
SCANNED = ("theory", "numerics", "bench", "tests", "docs", "notebooks", "examples")
SCANNED_FILES = ("README.md", "Makefile", "mkdocs.yml", "CITATION.cff", "pyproject.toml")
MISSING_NAMES = ("science.md", "shared/reference")


def _modules_with_examples() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                parts = path.relative_to(ROOT).with_suffix("").parts
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def _expected(comment: str) -> tuple[bool, object]:
    """(True, value) when the comment starts with a Python literal, else (False, None)."""
    text = comment.lstrip("#").strip()
    for candidate in (text, text.split(" -- ")[0], text.split(": ")[0], text.split(" ")[0]):
        try:
            return True, ast.literal_eval(candidate.strip())
        except (ValueError, SyntaxError):
            continue
    return False, None


def _comments(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string for tok in tokens if tok.type == tokenize.COMMENT}


def _run_block(source: str, namespace: dict[str, object]) -> int:
    """Execute one block statement by statement; returns how many literal comments it checked."""
    comments = _comments(source)
    checked = 0
    for node in ast.parse(source).body:
        code = ast.Module(body=[node], type_ignores=[])
        comment = comments.get(node.end_lineno) if isinstance(node, ast.Expr) else None
        known, value = _expected(comment) if comment else (False, None)
        with contextlib.redirect_stdout(io.StringIO()):
            if known:
                got = eval(compile(ast.Expression(node.value), "<block>", "eval"), namespace)
                assert got == value, f"{ast.unparse(node)} gave {got!r}, the text says {value!r}"
                checked += 1
            else:
                exec(compile(code, "<block>", "exec"), namespace)
    return checked


@pytest.mark.parametrize("page", [p for p in PAGES if FENCE.search(p.read_text("utf-8"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_of_readme_and_docs_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in FENCE.findall(page.read_text(encoding="utf-8")):
        _run_block(block, namespace)


def test_literal_comments_are_checked() -> None:
    namespace: dict[str, object] = {}
    assert _run_block("x = 2\nx + 1  # 3 -- the sum\nprint(x)  # a note\n", namespace) == 1
    with pytest.raises(AssertionError, match="the text says 4"):
        _run_block("1 + 2  # 4: wrong\n", namespace)


def _ignored_folders() -> list[str]:
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") + "/" for line in lines
            if line.strip().endswith("/") and not line.startswith("#")]


def _scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for folder in SCANNED:
        files.extend(p for p in sorted((ROOT / folder).rglob("*"))
                     if p.is_file() and p.suffix in (".py", ".md", ".ipynb", ".yaml", ".yml")
                     and "__pycache__" not in p.parts)
    return files


def test_every_pointer_names_a_file_in_the_repository() -> None:
    ignored = _ignored_folders()
    missing = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(ROOT)
        for name in MISSING_NAMES:
            if name in text and where != Path("tests/test_docs.py"):
                missing.append(f"{where}: {name}")
        for target in set(POINTER.findall(text)):
            if not (ROOT / target).exists() and not any(target.startswith(i) for i in ignored):
                missing.append(f"{where}: {target}")
    assert not missing, "pointers to files that are not in the repository: " + "; ".join(missing)
