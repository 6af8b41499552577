"""MkDocs hooks of the documentation site (configured in mkdocs.yml, run by ``make docs``).

* MathJax: ``tex-svg-full.js`` is copied from the installed ``django-static-mathjax``
  package (docs extra) into ``javascripts/mathjax/``, so formulas render without network.
* Tutorials: every ``notebooks/*.ipynb`` becomes the page ``tutorials/<name>.md``: markdown
  cells as they are, code cells as Python blocks (the notebooks are stored without outputs;
  ``make test`` executes them).
* Command line: ``api/cli-help.md`` holds the ``--help`` text of ``iasym`` and of every
  sub-command, taken from the parser itself (:func:`numerics.cli.build_parser`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mathjax
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
MATHJAX = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"


def notebook_markdown(path: Path) -> str:
    """Markdown page of one notebook: a note on where it comes from, then its cells in order."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    note = (f"!!! note \"Notebook\"\n    Rendered from `notebooks/{path.name}` (stored without "
            "outputs). Run it with `jupyter lab notebooks/` or execute all notebooks with "
            "`make test`.\n")
    parts = []
    first = "".join(cells[0]["source"]).strip() if cells else ""
    if cells and cells[0]["cell_type"] == "markdown" and first.startswith("# "):
        parts.append(first + "\n")
        cells = cells[1:]
    parts.append(note)
    for cell in cells:
        source = "".join(cell["source"]).rstrip()
        if not source:
            continue
        if cell["cell_type"] == "markdown":
            parts.append(source + "\n")
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```\n")
    return "\n".join(parts)


def cli_help_markdown() -> str:
    """Markdown page with the help text of ``iasym`` and each sub-command, in one code block
    per command."""
    from numerics.cli import build_parser

    parser = build_parser()
    parts = ["# Command-line help\n", "The `--help` text of `iasym` and of every sub-command, "
             "generated from the parser when the site is built.\n",
             f"```text\n{parser.format_help().rstrip()}\n```\n"]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in sorted(subparsers.choices.items()):
        parts.append(f"## iasym {name}\n\n```text\n{sub.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the MathJax bundle and one page per notebook to the site's files."""
    if not MATHJAX.is_file():
        raise PluginError(f"MathJax bundle not found at {MATHJAX}: install the docs extra "
                          "(pip install -e '.[docs]')")
    files.append(File.generated(config, "javascripts/mathjax/tex-svg-full.js",
                                abs_src_path=str(MATHJAX)))
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not notebooks:
        raise PluginError(f"no notebooks found in {NOTEBOOKS}")
    for path in notebooks:
        files.append(File.generated(config, f"tutorials/{path.stem}.md",
                                    content=notebook_markdown(path)))
    files.append(File.generated(config, "api/cli-help.md", content=cli_help_markdown()))
    return files
