"""Slot VAE models and loss: shapes, attention/mask normalization, exact penalty and KL values."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import TypeVar

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError
from numerics.sprites.experiment import preset
from numerics.sprites.loss import (
    LossConfig,
    batch_r2,
    interaction_penalty,
    kl_divergence,
    slot_attention_mass,
    slot_vae_loss,
)
from numerics.sprites.models import (
    ENCODERS,
    CompetitiveCrossAttention,
    CrossAttentionBlock,
    ModelConfig,
    fourier_features,
    make_model,
    pixel_grid,
)

SMOKE = preset("smoke").model
M = TypeVar("M", CompetitiveCrossAttention, CrossAttentionBlock)


@pytest.mark.parametrize(("encoder", "decoder"),
                         list(itertools.product(ENCODERS,
                                                ("transformer", "spatial-broadcast"))))
def test_forward_shapes_and_normalization(encoder: str, decoder: str) -> None:
    config = replace(SMOKE, encoder=encoder, decoder=decoder)
    model = make_model(config, seed=0).eval()
    x = torch.rand(2, 3, config.size, config.size, generator=torch.Generator().manual_seed(0))
    out = model(x)
    k, d, p = config.slots, config.slot_dim, config.size ** 2
    assert out.mu.shape == out.logvar.shape == out.z.shape == (2, k, d)
    assert torch.equal(out.z, out.mu)
    assert out.decoded.image.shape == x.shape
    if decoder == "transformer":
        attn = out.decoded.attention
        assert attn.shape == (2, config.decoder_layers, p, config.decoder_heads, k)
        assert torch.allclose(attn.sum(-1), torch.ones(()), atol=1e-6)
        assert out.decoded.masks is None
    else:
        assert out.decoded.masks.shape == (2, k, p)
        assert torch.allclose(out.decoded.masks.sum(1), torch.ones(()), atol=1e-6)
    model.train()
    assert not torch.equal(model(x).z, model(x).mu)


@pytest.mark.parametrize("downsample", [1, 2, 4])
def test_image_tokens_per_downsample(downsample: int) -> None:
    config = replace(SMOKE, downsample=downsample)
    model = make_model(config, 0)
    x = torch.rand(2, 3, config.size, config.size)
    side = config.size // downsample
    assert model.encoder.tokens(x).shape == (2, side * side, config.width)
    assert model(x).decoded.image.shape == x.shape


@pytest.mark.parametrize(("kernel", "downsample", "seen"), [(5, 2, 21), (3, 2, 13), (3, 1, 9),
                                                         (5, 4, 25)])
def test_token_receptive_field(kernel: int, downsample: int, seen: int) -> None:
    """A token's receptive field is 1 + (k - 1)(2 + s_1) + 2 s_1 s_2 pixels across."""
    config = replace(SMOKE, size=32, cnn_kernel=kernel, downsample=downsample)
    cnn = make_model(config, 0).encoder.tokens.cnn
    x = torch.zeros(1, 3, 32, 32, requires_grad=True)
    out = cnn(x)
    centre = out.shape[-1] // 2
    out[0, :, centre, centre].sum().backward()
    rows = (x.grad.abs().sum(dim=(0, 1)) > 0).any(dim=1).nonzero()
    assert int(rows.max() - rows.min()) + 1 == seen


def test_make_model_is_seeded() -> None:
    a, b, c = make_model(SMOKE, 1), make_model(SMOKE, 1), make_model(SMOKE, 2)
    pa, pb, pc = (torch.cat([q.flatten() for q in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_transformer_decoder_pixels_do_not_interact() -> None:
    """Cross-attention only: a pixel's output does not change if another pixel's query does."""
    model = make_model(SMOKE, 0).eval()
    z = torch.randn(1, SMOKE.slots, SMOKE.slot_dim, generator=torch.Generator().manual_seed(0))
    before = model.decoder(z).image.flatten(2)
    model.decoder.features[0] += 1.0
    after = model.decoder(z).image.flatten(2)
    assert not torch.equal(before[..., 0], after[..., 0])
    assert torch.equal(before[..., 1:], after[..., 1:])


def test_fourier_features() -> None:
    grid = pixel_grid(2)
    assert torch.equal(grid, torch.tensor([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]))
    f = fourier_features(grid, 2)
    assert f.shape == (4, 10)
    assert torch.allclose(f[0, 2:6], torch.sin(torch.tensor([-0.5, -1.0, -0.5, -1.0]) * torch.pi))


@settings(max_examples=20, deadline=None)
@given(k=st.integers(2, 6), heads=st.integers(1, 4), layers=st.integers(1, 3))
def test_interaction_penalty_exact_values(k: int, heads: int, layers: int) -> None:
    uniform = torch.full((2, layers, 5, heads, k), 1.0 / k, dtype=torch.float64)
    # a_{p,k} = heads / k for all k: sum_{k<k'} a a' = C(k, 2) heads^2 / k^2
    expected = k * (k - 1) / 2 * heads**2 / k**2
    assert interaction_penalty(uniform).item() == pytest.approx(expected, rel=1e-12)
    onehot = torch.nn.functional.one_hot(torch.randint(0, k, (2, 1, 5, 1)), k).double()
    assert interaction_penalty(onehot.expand(2, layers, 5, heads, k)).item() == 0.0


def test_attention_mass_sums_heads_and_averages_layers() -> None:
    attn = torch.zeros(1, 2, 1, 2, 3)
    attn[0, 0, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    attn[0, 0, 0, 1] = torch.tensor([0.0, 1.0, 0.0])
    attn[0, 1, 0, 0] = torch.tensor([0.0, 0.0, 1.0])
    attn[0, 1, 0, 1] = torch.tensor([0.0, 0.0, 1.0])
    assert torch.equal(slot_attention_mass(attn)[0, 0], torch.tensor([0.5, 0.5, 1.0]))
    assert interaction_penalty(attn).item() == pytest.approx(0.25 + 0.5 + 0.5)


def test_kl_exact() -> None:
    mu = torch.tensor([[[0.0, 1.0]], [[2.0, 0.0]]])
    logvar = torch.tensor([[[0.0, 0.0]], [[0.0, 1.0]]])
    # per sample: 0 + 1/2 ; 2 + (e - 1 - 1)/2
    expected = (0.5 + 2.0 + (torch.e - 2.0) / 2) / 2
    assert kl_divergence(mu, logvar).item() == pytest.approx(expected, rel=1e-6)


def test_alpha_warmup_and_loss_terms() -> None:
    cfg = LossConfig(sigma=2.0, beta=0.5, alpha=4.0, alpha_warmup=4)
    assert [cfg.alpha_at(t) for t in (0, 1, 3, 10)] == [1.0, 2.0, 4.0, 4.0]
    assert LossConfig(alpha=3.0, alpha_warmup=0).alpha_at(0) == 3.0
    model = make_model(SMOKE, 0).eval()
    x = torch.rand(2, 3, SMOKE.size, SMOKE.size, generator=torch.Generator().manual_seed(1))
    loss, logs = slot_vae_loss(model, x, 1, cfg)
    total = 2.0 * logs["recon"] + 0.5 * logs["kl"] + 2.0 * logs["interaction"]
    assert loss.item() == pytest.approx(total, rel=1e-5)


def test_batch_r2_exact() -> None:
    x = torch.zeros(2, 1, 1, 2)
    x[1] = 1.0  # per-pixel mean 1/2: sum of squared deviations 4 * 1/4 = 1
    assert batch_r2(x, x) == 1.0
    assert batch_r2(x, torch.full_like(x, 0.5)) == 0.0
    assert batch_r2(x, x + 0.5) == pytest.approx(1.0 - 4 * 0.25)
    same = torch.ones(3, 1, 2, 2)
    assert batch_r2(same, same) == 1.0 and batch_r2(same, same * 0.9) == -math.inf


def test_alpha_gate_holds_the_penalty_until_the_batch_reconstructs(monkeypatch) -> None:
    import numerics.sprites.loss as loss_module

    model = make_model(SMOKE, 0).eval()
    x = torch.rand(3, 3, SMOKE.size, SMOKE.size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        r2 = batch_r2(x, model(x).decoded.image)
    cfg = LossConfig(sigma=1.0, beta=0.0, alpha=3.0, alpha_warmup=0, alpha_gate=0.5)
    loss, logs = slot_vae_loss(model, x, 0, cfg)
    assert logs["batch_r2"] == pytest.approx(r2, rel=1e-6) and r2 < 0.5  # untrained: closed
    assert logs["alpha"] == 0.0 and loss.item() == pytest.approx(logs["recon"], rel=1e-6)
    for value, alpha in ((0.49, 0.0), (0.5, 3.0), (0.9, 3.0)):
        monkeypatch.setattr(loss_module, "batch_r2", lambda images, recon, v=value: v)
        loss, logs = slot_vae_loss(model, x, 0, cfg)
        assert logs["alpha"] == alpha and logs["batch_r2"] == value
        assert loss.item() == pytest.approx(logs["recon"] + alpha * logs["interaction"],
                                            rel=1e-6)
    # before alpha_start the schedule alone decides (0), whatever the gate says
    late = LossConfig(sigma=1.0, beta=0.0, alpha=3.0, alpha_start=5, alpha_gate=0.5)
    assert slot_vae_loss(model, x, 0, late)[1]["alpha"] == 0.0
    with pytest.raises(ConfigError, match="alpha_gate"):
        LossConfig(alpha_gate=1.0).validate()


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        ModelConfig(decoder="mlp").validate()
    with pytest.raises(ConfigError):
        ModelConfig(width=30, decoder_heads=4).validate()
    with pytest.raises(ConfigError):
        ModelConfig(size=30).validate()
    with pytest.raises(ConfigError, match="slot_init"):
        ModelConfig(slot_init="uniform").validate()
    with pytest.raises(ConfigError, match="downsample"):
        ModelConfig(downsample=3).validate()
    with pytest.raises(ConfigError, match="cnn_kernel"):
        ModelConfig(cnn_kernel=4).validate()
    with pytest.raises(ConfigError, match="multiple of downsample = 2"):
        ModelConfig(size=15, downsample=2).validate()
    with pytest.raises(ConfigError):
        LossConfig(alpha=-1.0).validate()
    sb = make_model(replace(SMOKE, decoder="spatial-broadcast"), 0)
    with pytest.raises(ConfigError):
        slot_vae_loss(sb, torch.rand(1, 3, SMOKE.size, SMOKE.size), 0, LossConfig(alpha=1.0))


def test_logvar_init_sets_the_posterior_log_variance_bias() -> None:
    base = make_model(SMOKE, 3)
    shifted = make_model(replace(SMOKE, logvar_init=-4.0), 3)
    d = SMOKE.slot_dim
    b0, b1 = base.encoder.head.linear.bias, shifted.encoder.head.linear.bias
    assert torch.equal(b1[:d], b0[:d])
    assert torch.equal(b1[d:], b0[d:] - 4.0)


@pytest.mark.parametrize("encoder", ENCODERS)
@settings(max_examples=5, deadline=None)
@given(perm=st.permutations(range(SMOKE.slots)))
def test_random_slot_init_makes_slots_exchangeable(encoder: str, perm: list[int]) -> None:
    """With slot_init="random" the encoder is slot-permutation equivariant: permuting the
    initialization noise permutes the posterior (same numbers, slots in the new order)."""
    config = replace(SMOKE, encoder=encoder, slot_init="random")
    model = make_model(config, seed=0).train()
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, config.size, config.size, generator=gen)
    eps = torch.randn(2, config.slots, config.width, generator=gen)
    noise = torch.randn(2, config.slots, config.slot_dim, generator=gen)
    order = torch.tensor(perm)
    a = model(x, noise, eps)
    b = model(x, noise[:, order], eps[:, order])
    assert torch.allclose(b.mu, a.mu[:, order], atol=1e-5)
    assert torch.allclose(b.decoded.image, a.decoded.image, atol=1e-5)


def test_random_slot_init_is_fixed_in_eval_and_drawn_in_training() -> None:
    config = replace(SMOKE, slot_init="random")
    model = make_model(config, seed=0)
    x = torch.rand(2, 3, config.size, config.size, generator=torch.Generator().manual_seed(0))
    model.eval()
    assert torch.equal(model(x).mu, model(x).mu)
    reloaded = make_model(config, seed=1)
    reloaded.load_state_dict(model.state_dict())
    assert torch.equal(reloaded.eval()(x).mu, model(x).mu)
    model.train()
    eps = torch.randn(2, config.slots, config.width, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(model(x, None, eps).mu, model(x, None, 2.0 * eps).mu)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, SMOKE.size ** 2 - 1), min_size=1, max_size=12, unique=True),
       st.integers(0, 2 ** 16))
def test_decoder_renders_a_pixel_subset_exactly_as_the_full_image(chosen, seed) -> None:
    """The Transformer decoder's pixels never see each other: rendering a subset gives the full
    image's values and attention there (up to float rounding: matmuls of another size)."""
    model = make_model(SMOKE, 0).eval()
    z = torch.randn(2, SMOKE.slots, SMOKE.slot_dim, generator=torch.Generator().manual_seed(seed))
    pixels = torch.tensor(sorted(chosen))
    full, part = model.decoder(z), model.decoder(z, pixels)
    assert part.image.shape == (2, 3, len(chosen))
    torch.testing.assert_close(part.image, full.image.flatten(2)[:, :, pixels],
                               rtol=0, atol=1e-6)
    torch.testing.assert_close(part.attention, full.attention[:, :, pixels], rtol=0, atol=1e-6)


def test_pixel_subsampled_loss_is_an_unbiased_estimate_of_the_full_loss() -> None:
    """Averaged over every pixel set of size m (each pixel in the same number of sets), the
    subsampled reconstruction and penalty equal the full ones exactly (up to float rounding)."""
    config = replace(SMOKE, size=4, downsample=1)
    model = make_model(config, 0).eval()
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(5))
    cfg = LossConfig(sigma=1.0, beta=0.0, alpha=1.0, alpha_warmup=0, pixel_fraction=0.25)
    assert cfg.pixel_count(16) == 4
    _, full = slot_vae_loss(model, x, 0, cfg)
    sets = [torch.arange(i, i + 4) for i in range(0, 16, 4)]  # a partition of the 16 pixels
    parts = [slot_vae_loss(model, x, 0, cfg, pixels=s)[1] for s in sets]
    for key in ("recon", "interaction"):
        assert sum(p[key] for p in parts) / 4 == pytest.approx(full[key], rel=1e-5)
    assert parts[0]["recon"] != pytest.approx(full["recon"], rel=1e-3)  # one set alone is not


def test_pixel_fraction_is_checked() -> None:
    from numerics.sprites.training import SpritesRun

    assert LossConfig(pixel_fraction=0.001).pixel_count(100) == 1
    for bad in (0.0, 1.5, -0.2):
        with pytest.raises(ConfigError, match="pixel_fraction"):
            LossConfig(pixel_fraction=bad).validate()
    run = preset("smoke")
    sb = replace(run, model=replace(run.model, decoder="spatial-broadcast"),
                 loss=replace(run.loss, alpha=0.0, pixel_fraction=0.5))
    with pytest.raises(ConfigError, match="pixel_fraction"):
        SpritesRun.validate(sb)
    model = make_model(sb.model, 0)
    with pytest.raises(ConfigError, match="whole images"):
        model(torch.rand(1, 3, SMOKE.size, SMOKE.size), pixels=torch.tensor([0]))


def _identity_projections(module: M) -> M:
    """A width-2 attention module (``q``, ``kv``, ``out``) with identity query, key, value and
    output projections and no output bias, for the hand-computed cases."""
    with torch.no_grad():
        module.q.weight.copy_(torch.eye(2))
        module.kv.weight.copy_(torch.cat([torch.eye(2), torch.eye(2)]))
        module.out.weight.copy_(torch.eye(2))
        module.out.bias.zero_()
    return module


def test_competitive_cross_attention_by_hand() -> None:
    """Softmax over the slots, then each slot's weights renormalized over the tokens: with
    identity projections, one head, width 2, slots s_1 = (c, 0), s_2 = (0, c) with
    c / sqrt(2) = ln 3 and tokens t_1 = (1, 0), t_2 = (0, 1): token 1 goes 3/4 to slot 1,
    token 2 3/4 to slot 2, so slot 1 receives (3/4 t_1 + 1/4 t_2) / 1 = (3/4, 1/4)."""
    attn = _identity_projections(CompetitiveCrossAttention(2, 1).double())
    c = math.sqrt(2.0) * math.log(3.0)
    slots = torch.tensor([[[c, 0.0], [0.0, c]]], dtype=torch.float64)
    tokens = torch.eye(2, dtype=torch.float64)[None]
    out = attn(slots, tokens)
    assert torch.allclose(out, torch.tensor([[[0.75, 0.25], [0.25, 0.75]]], dtype=torch.float64),
                          atol=1e-7)
    # one slot takes every token whole (softmax over one slot is 1): the mean token
    assert torch.allclose(attn(slots[:, :1], tokens), torch.tensor([[[0.5, 0.5]]],
                                                                   dtype=torch.float64))


@settings(max_examples=10, deadline=None)
@given(perm=st.permutations(range(3)), tperm=st.permutations(range(5)),
       seed=st.integers(0, 2**16))
def test_competitive_cross_attention_permutations(perm: list[int], tperm: list[int],
                                                  seed: int) -> None:
    """Permuting the slots permutes the output; permuting the tokens changes nothing."""
    gen = torch.Generator().manual_seed(seed)
    attn = CompetitiveCrossAttention(8, 2).double()
    slots = torch.randn(2, 3, 8, generator=gen, dtype=torch.float64)
    tokens = torch.randn(2, 5, 8, generator=gen, dtype=torch.float64)
    out = attn(slots, tokens)
    assert torch.allclose(attn(slots[:, perm], tokens), out[:, perm], atol=1e-12)
    assert torch.allclose(attn(slots, tokens[:, tperm]), out, atol=1e-12)
    # and it is not token cross-attention: a lone slot sees the plain mean of the values
    lone = attn(slots[:, :1], tokens)
    mean = attn.out(attn.kv(tokens)[..., 8:].mean(dim=1, keepdim=True))  # [key | value]
    assert torch.allclose(lone, mean, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 4]), st.integers(1, 5), st.integers(1, 7), st.booleans(),
       st.integers(0, 2 ** 16))
def test_cross_attention_folded_onto_the_slots_equals_the_direct_computation(
        heads: int, n_slots: int, pixels: int, modulation: bool, seed: int) -> None:
    """Folding W_q and W_o onto the K slots changes only the order of the sums: in float64 the
    block's queries and attention equal the per-pixel projections of the paper's form
    (``direct``), with or without the modulation, and queries shared by the batch, (1, P, D),
    give what their copy per sample gives."""
    g = torch.Generator().manual_seed(seed)
    block = CrossAttentionBlock(8, heads, modulation).double()
    with torch.no_grad():
        for param in block.parameters():
            param.copy_(torch.randn(param.shape, generator=g, dtype=torch.float64))
    queries = torch.randn(3, pixels, 8, generator=g, dtype=torch.float64)
    slots = torch.randn(3, n_slots, 8, generator=g, dtype=torch.float64)
    out, attn = block(queries, slots)
    ref_out, ref_attn = block.direct(queries, slots)
    torch.testing.assert_close(attn, ref_attn, rtol=0, atol=1e-12)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    shared, shared_attn = block(queries[:1], slots)
    expanded, expanded_attn = block(queries[:1].expand(3, -1, -1), slots)
    assert shared.shape == (3, pixels, 8)
    torch.testing.assert_close(shared, expanded, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(shared_attn, expanded_attn, rtol=0, atol=1e-12)


def test_cross_attention_block_hand_computed() -> None:
    """Width 2, one head, identity projections, FFN off: the query (1, -1) and the slots (2, 0),
    (0, 2) normalize to c(1, -1), c(1, -1), c(-1, 1) with c = 1/sqrt(1 + eps); the logits are
    +-2c^2/sqrt(2), so A = (sigmoid(2 sqrt(2) c^2), 1 - that) and the block returns
    (1, -1) (1 + c tanh(sqrt(2) c^2))."""
    block = _identity_projections(CrossAttentionBlock(2, 1).double())
    with torch.no_grad():
        block.ffn[-1].weight.zero_()
        block.ffn[-1].bias.zero_()
    queries = torch.tensor([[[1.0, -1.0]]], dtype=torch.float64)
    slots = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]], dtype=torch.float64)
    out, attn = block(queries, slots)
    c = 1.0 / math.sqrt(1.0 + block.norm_q.eps)
    a = 1.0 / (1.0 + math.exp(-2.0 * math.sqrt(2.0) * c * c))
    torch.testing.assert_close(attn, torch.tensor([[[[a, 1.0 - a]]]], dtype=torch.float64),
                               rtol=0, atol=1e-15)
    scale = 1.0 + c * math.tanh(math.sqrt(2.0) * c * c)
    torch.testing.assert_close(out, torch.tensor([[[scale, -scale]]], dtype=torch.float64),
                               rtol=0, atol=1e-15)


def test_modulated_cross_attention_block_hand_computed() -> None:
    """The hand-computed case above with the modulation W_g = I, b_g = 0: gamma_k = LN(s_k),
    so sum_k A_k gamma_k = (2a - 1) c (1, -1) = tanh(sqrt(2) c^2) c (1, -1), and times
    LN(q) = c (1, -1) it adds tanh(sqrt(2) c^2) c^2 (1, 1) to the unmodulated output."""
    block = _identity_projections(CrossAttentionBlock(2, 1, modulation=True).double())
    assert block.gamma is not None
    with torch.no_grad():
        block.ffn[-1].weight.zero_()
        block.ffn[-1].bias.zero_()
        block.gamma.weight.copy_(torch.eye(2))
    queries = torch.tensor([[[1.0, -1.0]]], dtype=torch.float64)
    slots = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]], dtype=torch.float64)
    out, _ = block(queries, slots)
    c = 1.0 / math.sqrt(1.0 + block.norm_q.eps)
    t = math.tanh(math.sqrt(2.0) * c * c)
    expected = torch.tensor([[[1.0 + c * t + c * c * t, -1.0 - c * t + c * c * t]]],
                            dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-15)


def test_modulated_model_starts_from_the_unmodulated_parameters() -> None:
    """W_g, b_g are made without drawing random numbers: the modulated model of a seed holds
    the unmodulated model's parameters plus zero W_g, b_g and so renders the same images and
    attention bit for bit; once W_g is not zero it renders others, and with
    ``modulate=False`` it renders the unmodulated images bit for bit and passes W_g, b_g no
    gradient."""
    config = replace(SMOKE, size=8, decoder_layers=2)
    plain, modulated = make_model(config, 3), make_model(replace(config, modulation=True), 3)
    ps, ms = plain.state_dict(), modulated.state_dict()
    assert sorted(set(ms) - set(ps)) == [f"decoder.blocks.{i}.gamma.{p}" for i in range(2)
                                         for p in ("bias", "weight")]
    assert all(torch.equal(ps[k], ms[k]) for k in ps)
    assert all(not ms[k].any() for k in set(ms) - set(ps))
    z = torch.randn(2, config.slots, config.slot_dim, generator=torch.Generator().manual_seed(1))
    a, b = plain.decoder(z), modulated.decoder(z)
    assert a.attention is not None and b.attention is not None
    assert torch.equal(a.image, b.image) and torch.equal(a.attention, b.attention)
    with torch.no_grad():
        for block in modulated.decoder.blocks:
            block.gamma.weight.fill_(0.3)
    off = modulated.decoder(z, modulate=False)
    assert torch.equal(off.image, plain.decoder(z).image)
    off.image.square().sum().backward()
    assert all(block.gamma.weight.grad is None for block in modulated.decoder.blocks)
    assert not torch.allclose(modulated.decoder(z).image, off.image)


def test_modulation_start_switches_the_modulation_on_at_its_step() -> None:
    """``SlotVAE.forward(step=t)`` modulates from t = modulation_start on (and for a trained
    model, step None); a start without the modulation, or a negative one, is refused."""
    config = replace(SMOKE, size=8, modulation=True, modulation_start=5)
    model = make_model(config, 0).eval()
    with torch.no_grad():
        for block in model.decoder.blocks:
            block.gamma.weight.fill_(0.3)
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    plain = model.decoder(model(images).mu, modulate=False).image
    modulated = model.decoder(model(images).mu).image
    assert torch.equal(model(images, step=4).decoded.image, plain)
    for step in (5, 6, None):
        assert torch.equal(model(images, step=step).decoded.image, modulated)
    for bad in (replace(SMOKE, modulation_start=3), replace(config, modulation_start=-1)):
        with pytest.raises(ConfigError, match="modulation_start"):
            bad.validate()
