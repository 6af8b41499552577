"""numerics.synthetic.decoder_families: the registry read by validation, the CLI, sweeps and
training."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from numerics.cli import main
from numerics.core.errors import ConfigError
from numerics.sweep import parse_spec, run_sweep
from numerics.synthetic import decoder_families
from numerics.synthetic.decoder_families import (
    ConstrainedDecoder,
    DecoderFamily,
    constrained_decoder,
    family,
    make_decoder,
    names,
    register,
    unregister,
)
from numerics.synthetic.training import TrainConfig


class LinearDecoder(nn.Module):
    """x = W z + b: the smallest decoder there is (no interaction constraint)."""

    def __init__(self, d_z: int, d_x: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(d_x, d_z, generator=gen) / d_z ** 0.5)
        self.bias = nn.Parameter(torch.zeros(d_x))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T + self.bias


def _linear(order, slot_sizes, d_x, hidden, seed, depth) -> nn.Module:
    return LinearDecoder(sum(slot_sizes), d_x, seed)


@pytest.fixture
def linear_family():
    # a new decoder family is this one registry line
    register(DecoderFamily("linear-test", _linear, False, "x = W z + b"))
    yield "linear-test"
    unregister("linear-test")


TINY = ["--generator", "neural", "--slots", "2x1", "--outputs", "6", "--steps", "15",
        "--n-train", "128", "--n-eval", "60", "--device", "cpu"]


def test_builtin_families_and_lookup() -> None:
    assert names()[:2] == ("structured", "mlp")
    assert family("structured").interaction_order and not family("mlp").interaction_order
    with pytest.raises(ConfigError, match="unknown decoder 'gan': choose one of structured, mlp"):
        family("gan")
    with pytest.raises(ConfigError, match="unknown decoder"):
        family(["structured"])
    with pytest.raises(ConfigError, match="already registered"):
        register(DecoderFamily("mlp", _linear, False, ""))
    for bad in ("", "Linear", "a b", None):
        with pytest.raises(ConfigError, match="lower-case name"):
            register(DecoderFamily(bad, _linear, False, ""))
    with pytest.raises(ConfigError, match="unknown decoder"):
        unregister("never-registered")
    assert names()[:2] == ("structured", "mlp")


def test_a_registered_family_is_built_validated_trained_and_swept(linear_family, tmp_path,
                                                                  capsys) -> None:
    decoder = make_decoder(linear_family, 1, (2, 1), 6, seed=4)
    assert isinstance(decoder, LinearDecoder)
    assert torch.equal(decoder.weight, make_decoder(linear_family, 1, (2, 1), 6, seed=4).weight)
    TrainConfig(decoder=linear_family).validate()
    assert not TrainConfig(decoder=linear_family).constrained()
    # iasym train --decoder NAME
    assert main(["train", *TINY, "--decoder", linear_family, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["decoder"] == linear_family
    assert out["verdict"]["prediction"] == "no-theorem"
    assert "interaction constraint" in out["verdict"]["reason"]
    # a sweep over it (in this process: a family registered by a test is not seen by
    # spawned workers, which import only the package)
    spec = parse_spec({"name": "fam", "base": {
        "decoder": linear_family, "generator": "neural", "slot_sizes": [2, 1], "outputs": 6,
        "steps": 15, "n_train": 128, "n_eval": 60, "device": "cpu"}, "grid": {"seed": [0, 1]}})
    result = run_sweep(spec, tmp_path / "fam.jsonl", workers=1, progress=False)
    assert result.failed == 0 and result.ran == 2
    assert all(r["result"]["config"]["decoder"] == linear_family for r in result.records)


def test_unknown_family_is_one_cli_line_and_a_config_error(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", *TINY, "--decoder", "linear-test"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "invalid choice" in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match="unknown decoder"):
        TrainConfig(decoder="linear-test").validate()
    assert "linear-test" not in decoder_families.names()


def test_constrained_decoders_follow_the_protocol() -> None:
    structured = make_decoder("structured", 0, (1, 1), 4)
    assert constrained_decoder(structured) is structured
    assert isinstance(structured, ConstrainedDecoder)
    for decoder in (make_decoder("mlp", 0, (1, 1), 4), LinearDecoder(2, 4, seed=0)):
        with pytest.raises(ConfigError, match="lacks penalty"):
            constrained_decoder(decoder)
