"""numerics.synthetic.population, numerics.synthetic.selection and numerics.synthetic.verdict."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import ConfigError
from numerics.synthetic.population import Population
from numerics.synthetic.selection import SEED_STRIDE, SelectionSettings, _stage_path, select_model
from numerics.synthetic.verdict import judge, predict


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def test_population_forward_is_every_members_forward() -> None:
    members = [_net(s) for s in range(3)]
    pop = Population(members)
    x = torch.randn(5, 3)
    out = pop(x)
    assert out.shape == (3, 5, 2) and pop.size == 3
    for r, m in enumerate(members):
        torch.testing.assert_close(out[r], m(x), rtol=0, atol=1e-6)
        assert torch.equal(pop.member(r)(x), m(x))
    sub = pop.subset([2, 0])
    torch.testing.assert_close(sub(x), out[[2, 0]], rtol=0, atol=1e-6)
    with pytest.raises(ConfigError):
        pop.member(3)


def test_population_call_with_per_member_arguments() -> None:
    pop = Population([_net(s) for s in range(2)])
    xs = torch.randn(2, 4, 3)
    out = pop.call(lambda m, x: m(x).sum(), xs, in_dims=(0,))
    expected = torch.stack([pop.member(r)(xs[r]).sum() for r in range(2)])
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    with pytest.raises(ConfigError):
        pop.call(lambda m, x: m(x), xs, in_dims=(0, None))


def test_members_train_exactly_as_they_would_alone() -> None:
    """Sum of member losses + per-member clipping = independent training of each member."""
    data = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    target = torch.sin(data[:, :2])
    engine = EngineConfig(steps=25, lr=1e-2, grad_clip=0.05, progress=False, device="cpu")

    def sample(step: int, gen: torch.Generator):
        return data[torch.randint(64, (16,), generator=gen)], \
            target[torch.randint(64, (16,), generator=gen)]

    def pop_loss(pop, batch, step):
        x, y = batch
        mse = (pop(x) - y).square().mean((1, 2))
        return mse.sum(), {"mse": float(mse.detach().mean())}

    def one_loss(m, batch, step):
        x, y = batch
        mse = (m(x) - y).square().mean()
        return mse, {"mse": float(mse)}

    members = [_net(s) for s in range(3)]
    pop = Population(copy.deepcopy(members))
    fit(pop, pop_loss, sample, engine, clip_gradients=lambda m, c: m.clip_grad_norm_(c))
    x = torch.randn(7, 3)
    for r, m in enumerate(members):
        fit(m, one_loss, sample, engine)
        torch.testing.assert_close(pop.member(r)(x), m(x), rtol=0, atol=1e-5)


def test_update_members_and_buffers() -> None:
    class WithBuffer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("flag", torch.tensor(False))

        def forward(self, x):
            return torch.where(self.flag, 2 * self.lin(x), self.lin(x))

    pop = Population([WithBuffer() for _ in range(3)])
    x = torch.randn(4, 2)
    before = pop(x)
    pop.update_members(lambda m: m.flag.fill_(True))
    assert bool(pop.buffer("flag").all())
    torch.testing.assert_close(pop(x), 2 * before)
    with pytest.raises(ConfigError):
        pop.buffer("nope")


@pytest.mark.parametrize("kw", [
    {"candidates": 0}, {"keep": 3, "candidates": 2}, {"explore_fraction": 1.0},
    {"restarts": -1}, {"time_budget": 0}, {"threshold": float("nan")}, {"candidates": True},
])
def test_selection_settings_reject(kw) -> None:
    with pytest.raises(ConfigError):
        SelectionSettings(**kw).validate()


def test_stage_paths() -> None:
    assert _stage_path(None, 0, "final") is None
    assert _stage_path("d/run.pt", 0, "final") == "d/run.pt"
    assert _stage_path("d/run.pt", 0, "explore") == "d/run.r0-explore.pt"
    assert _stage_path("d/run.pt", 2, "final") == "d/run.r2.pt"


class _Scalar(nn.Module):
    """A 'model' whose held-out error is its parameter squared plus the seed's floor."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0]))
        self.register_buffer("floor", torch.tensor([float(seed % 7) / 10]))

    def forward(self, x):
        return self.w.square() + self.floor + 0 * x.sum()


def _search(settings: SelectionSettings, steps: int = 20):
    def loss(pop, x, step):
        err = pop(x).squeeze(-1)
        return err.sum(), {"mse": float(err.mean())}

    def val(pop):
        return pop(torch.zeros(1)).detach().reshape(-1)

    engine = EngineConfig(steps=steps, lr=0.1, progress=False, device="cpu", seed=3)
    return select_model(_Scalar, loss, lambda s, g: torch.zeros(1), engine, val, settings)


def test_selection_keeps_the_lowest_held_out_error_and_reports_rounds() -> None:
    chosen = _search(SelectionSettings(candidates=7, keep=2, restarts=0, threshold=1.0))
    rounds = chosen.rounds
    assert len(rounds) == 1 and chosen.restarts == 0 and chosen.stopped == "reconstructs"
    seeds = [3 + SEED_STRIDE * r for r in range(7)]
    assert rounds[0].seeds == seeds
    floors = [s % 7 / 10 for s in seeds]
    best_two = sorted(sorted(range(7), key=lambda r: floors[r])[:2])
    assert rounds[0].kept == best_two
    assert chosen.seed == min(seeds, key=lambda s: s % 7)
    assert chosen.val_recon == min(rounds[0].final_recon)
    assert chosen.to_dict()["rounds"][0]["kept"] == best_two


def test_selection_restarts_until_threshold_or_restarts_exhausted() -> None:
    # the floor is at least 0 and the threshold unreachable: every restart runs
    chosen = _search(SelectionSettings(candidates=2, keep=1, restarts=2, threshold=1e-9,
                                       time_budget=None))
    assert chosen.restarts == 2 and chosen.stopped == "restarts exhausted"
    assert len({s for r in chosen.rounds for s in r.seeds}) == 6
    assert chosen.val_recon == min(min(r.final_recon) for r in chosen.rounds)


def test_judge_verdicts_and_candidate_flag() -> None:
    assert judge(1e-3, 0.01, "identifiable").verdict == "identified"
    failed = judge(0.05, 0.5, "identifiable")
    assert failed.verdict == "not-converged" and not failed.candidate_counterexample
    assert "optimization failure" in failed.message()
    mixed = judge(1e-3, 0.5, "identifiable", "Theorem 4.3")
    assert mixed.verdict == "mixed-but-reconstructs" and mixed.candidate_counterexample
    assert mixed.message().startswith("CANDIDATE COUNTEREXAMPLE")
    allowed = judge(1e-3, 0.5, "no-theorem")
    assert allowed.verdict == "mixed-but-reconstructs" and not allowed.candidate_counterexample
    assert judge(float("nan"), 0.0, "identifiable").verdict == "not-converged"
    assert judge(0.003, 0.05, "conjectured").verdict == "identified"
    assert judge(0.0031, 0.0, "conjectured").verdict == "not-converged"
    assert judge(0.001, 0.051, "conjectured").candidate_counterexample
    assert judge(0.006, 0.0, "identifiable", recon_threshold=0.01).verdict == "identified"


def test_predict_follows_the_theorems() -> None:
    from theory.generators import additive, bilinear, linear

    add = additive((2, 2), 24, 0)
    assert predict(add, "mlp", 1, 1)[0] == "no-theorem"
    assert predict(add, "structured", 1, 1)[0] == "identifiable"
    assert predict(bilinear((2, 2), 40, 0), "structured", 1, 2)[0] == "cannot-reconstruct"
    # f = A z: every invertible linear h keeps f o h linear, and the theory certifies one
    prediction, reason = predict(linear((2, 2), 8, 0), "structured", 1, 1)
    assert prediction == "not-identifiable" and "certified counterexample" in reason
    # cubic slot parts + bilinear cross terms: a linear mixing keeps the total degree 3, so an
    # order-3 decoder fits the mixed latents exactly as well (order 2: the theorem holds)
    cubic = bilinear((2, 2), 40, 0)
    assert predict(cubic, "structured", 2, 2)[0] == "identifiable"
    prediction, reason = predict(cubic, "structured", 3, 2)
    assert prediction == "not-identifiable" and "<= 3" in reason
    assert predict(None, "structured", 1, 1)[0] == "no-theorem"


def test_single_member_has_the_population_interface() -> None:
    from numerics.synthetic.population import SingleMember

    net = _net(0)
    single = Population([net, _net(1)]).subset([0])
    assert isinstance(single, SingleMember) and single.size == 1
    x = torch.randn(5, 3)
    torch.testing.assert_close(single(x)[0], net(x), rtol=0, atol=1e-6)
    out = single.call(lambda m, xx: m(xx).sum(), x[None], in_dims=(0,))
    assert out.shape == (1,)
    loss = single(x).square().sum()
    loss.backward()
    norm = single.clip_grad_norm_(1e-3)
    total = torch.cat([p.grad.flatten() for p in single.parameters()]).norm()
    assert norm.shape == (1,) and float(total) <= 1e-3 * (1 + 1e-5)
    with pytest.raises(ConfigError):
        single.member(1)


@pytest.mark.parametrize(("proposal_residual", "switched"), [(0.5, True), (0.9, False)])
def test_late_check_replaces_a_member_whose_proposal_fits_better(proposal_residual: float,
                                                                switched: bool) -> None:
    """The late unmixing check swaps in the proposal only below switch_ratio x own residual."""
    seeds: list[int] = []

    def unmix(member, seed, restarts):
        seeds.append(seed)
        # the first stage's proposals keep a floor of 0.1, the late check's has none
        return 1.0, [(proposal_residual, _Scalar(1 if len(seeds) <= 2 else 0))]

    def loss(pop, x, step):
        err = pop(x).squeeze(-1)
        return err.sum(), {"mse": float(err.mean())}

    engine = EngineConfig(steps=600, lr=0.1, progress=False, device="cpu", seed=3)
    chosen = select_model(_Scalar, loss, lambda s, g: torch.zeros(1), engine,
                          lambda pop: pop(torch.zeros(1)).detach().reshape(-1),
                          SelectionSettings(candidates=2, restarts=0, threshold=1e-9,
                                            time_budget=None), unmix=unmix)
    round_ = chosen.rounds[0]
    assert len(seeds) == 3  # the two settled members, then the kept one at the late check
    assert round_.late_residual == [[1.0, proposal_residual]]
    assert round_.late_switched == [switched]
    assert (chosen.val_recon < 0.05) is switched  # the floor-0 proposal replaced the member


def test_time_budget_counts_from_the_start_of_the_run() -> None:
    """A run whose set-up already used the budget starts no restart round."""
    import time

    def loss(pop, x, step):
        err = pop(x).squeeze(-1)
        return err.sum(), {"mse": float(err.mean())}

    engine = EngineConfig(steps=20, lr=0.1, progress=False, device="cpu", seed=3)
    settings = SelectionSettings(candidates=2, restarts=3, threshold=1e-9, time_budget=60.0)
    args = (_Scalar, loss, lambda s, g: torch.zeros(1), engine,
            lambda pop: pop(torch.zeros(1)).detach().reshape(-1), settings)
    late = select_model(*args, started=time.perf_counter() - 59.99)
    assert late.restarts == 0 and late.stopped == "time budget"
    fresh = select_model(*args)
    assert fresh.restarts == 3 and fresh.stopped == "restarts exhausted"


def test_selection_settings_from_json_and_from_earlier_versions() -> None:
    """asdict -> JSON -> from_dict gives the settings back; the earlier ``late_restarts`` /
    ``unmix_restarts`` (n starts of 60 Adam steps) read as the searches they meant."""
    import json
    from dataclasses import asdict

    settings = SelectionSettings(late_search=((16, 10), (4, 20)), candidates=3)
    assert SelectionSettings.from_dict(json.loads(json.dumps(asdict(settings)))) == settings
    old = SelectionSettings.from_dict({"late_restarts": 4, "unmix_restarts": 8})
    assert old.late_search == ((4, 60),) and old.unmix_search == ((8, 60),)
    with pytest.raises(ConfigError, match="unknown selection settings"):
        SelectionSettings.from_dict({"restartz": 1})
    for bad in ((), ((0, 5),), ((4, 5), (8, 5)), "24x15"):
        with pytest.raises(ConfigError):
            SelectionSettings(late_search=bad).validate()
