import subprocess
import sys

import matplotlib.image
import pytest

from numerics.cli import main
from numerics.core.errors import ConfigError
from numerics.figures.registry import FIGURES, render


def test_render_one_proof_figure(tmp_path):
    paths = render(tmp_path, only="proof_order1", quick=True)
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    pixels = matplotlib.image.imread(paths[0] if paths[0].suffix == ".png" else paths[1])
    assert pixels.shape[0] > 200 and pixels.std() > 0.05


def test_unknown_figure_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown figure"):
        render(tmp_path, only="nope")


def test_cli_lists_and_rejects(tmp_path, capsys):
    assert main(["figures", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(FIGURES)
    proc = subprocess.run([sys.executable, "-m", "numerics", "figures", "--only", "nope",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown figure 'nope'" in proc.stderr and proc.stderr.count("\n") == 1
