"""Slot VAEs for sprites: the paper's Transformer encoder/decoder and the baselines.

Architecture and loss: docs/theory.md section 5.

Encoders map images (B, 3, H, W) to a diagonal Gaussian posterior over K slots,
``mu, logvar: (B, K, d_slot)``:

- :class:`TransformerEncoder`: CNN -> soft position embedding -> ``layers`` Transformer blocks
  in which K learned queries cross-attend to the image tokens, self-attend among themselves and
  pass an FFN -> per-slot linear head to (mu, logvar). ``inverted-transformer``: the same
  with the slots competing for the tokens in every cross-attention (softmax over the slots,
  :class:`CompetitiveCrossAttention`), Slot Attention's normalization in a Transformer.
- :class:`SlotAttentionEncoder` (baseline): CNN -> soft position embedding -> Slot Attention
  (softmax over slots, GRU update, ``iterations`` rounds) from learned initial slots (no
  sampling, so the encoder is deterministic) -> the same head.

Decoders map slots ``z: (B, K, d_slot)`` to a :class:`Decoded` image (B, 3, H, W):

- :class:`TransformerDecoder`: one query per pixel (Fourier features of its coordinates in
  [-1, 1]^2 with ``octaves`` octaves, then an MLP), ``layers`` blocks of cross-attention only
  (pixel queries -> slot keys/values, ``heads`` heads; no self-attention among pixels or slots),
  an output MLP to RGB. With ``modulation`` the slots a pixel attends to also scale its query
  feature-wise (FiLM, :class:`CrossAttentionBlock`). Returns the attention weights
  A (B, layers, P, heads, K). Pixels never
  see each other, so the decoder can render any subset of the pixels alone (``pixels``), with
  the values the full image has there (up to float rounding).
- :class:`SpatialBroadcastDecoder` (baseline): each slot is broadcast on the pixel grid with its
  coordinates, a CNN gives RGB and a mask logit per slot, masks are a softmax over slots and
  x_hat = sum_k m_k * rgb_k. Returns the masks (B, K, P).

:class:`SlotVAE` joins an encoder and a decoder with the reparametrization z = mu + e^{logvar/2} e
during training (z = mu in eval mode).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from numerics.core.errors import ConfigError
from numerics.core.validation import non_negative_int, positive_int

DECODERS = ("transformer", "spatial-broadcast")
SLOT_INITS = ("learned", "random")
#: Tokenizer downsampling factor -> strides of its two middle convolutions.
DOWNSAMPLE_STRIDES = {1: (1, 1), 2: (2, 1), 4: (2, 2)}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`SlotVAE` (paper sizes: K=5, d_slot=32, width 256, 5 encoder
    layers with 4 heads, 2 decoder layers with 12 heads, 8 octaves; the defaults are CPU-size)."""

    size: int = 64
    slots: int = 5
    slot_dim: int = 32
    width: int = 64
    encoder: str = "transformer"
    decoder: str = "transformer"
    encoder_layers: int = 2
    encoder_heads: int = 4
    decoder_layers: int = 2
    decoder_heads: int = 4
    octaves: int = 8
    cnn_channels: int = 32
    cnn_kernel: int = 5
    iterations: int = 3
    logvar_init: float = 0.0
    slot_init: str = "learned"
    downsample: int = 4
    #: Transformer decoder: the attended slots also scale the pixel queries feature-wise
    #: (FiLM; :class:`CrossAttentionBlock`).
    modulation: bool = False
    #: Training step from which the modulation acts (and its W_g, b_g train); before it the
    #: decoder computes exactly what the unmodulated one does (``SlotVAE.forward``'s
    #: ``modulate``).
    modulation_start: int = 0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an impossible architecture."""
        if self.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.slot_init not in SLOT_INITS:
            raise ConfigError(f"slot_init must be one of {SLOT_INITS}, got {self.slot_init!r}")
        for name in ("size", "slots", "slot_dim", "width", "encoder_layers", "encoder_heads",
                     "decoder_layers", "decoder_heads", "octaves", "cnn_channels", "iterations"):
            positive_int(name, getattr(self, name))
        non_negative_int("modulation_start", self.modulation_start)
        if self.modulation_start and not self.modulation:
            raise ConfigError("modulation_start > 0 needs modulation = True")
        if self.cnn_kernel not in (3, 5):
            raise ConfigError(f"cnn_kernel must be 3 or 5, got {self.cnn_kernel!r}")
        if self.downsample not in DOWNSAMPLE_STRIDES:
            raise ConfigError(f"downsample must be one of {tuple(DOWNSAMPLE_STRIDES)}, got "
                              f"{self.downsample!r}")
        if self.size % self.downsample:
            raise ConfigError(f"size must be a multiple of downsample = {self.downsample} "
                              f"(stride-2 convolutions of the tokenizer), got {self.size}")
        for heads in (self.encoder_heads, self.decoder_heads):
            if self.width % heads:
                raise ConfigError(f"width {self.width} is not divisible by {heads} heads")


@dataclass
class Decoded:
    """Decoder output: image (B, 3, H, W), or (B, 3, P') when only P' pixels were rendered;
    attention (B, L, P, heads, K) (P' pixels likewise) or masks (B, K, P)."""

    image: torch.Tensor
    attention: torch.Tensor | None = None
    masks: torch.Tensor | None = None


def pixel_grid(size: int) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1]^2, row-major: returns (size*size, 2) as (x, y)."""
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2.0 - 1.0
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def fourier_features(coords: torch.Tensor, octaves: int) -> torch.Tensor:
    """(P, 2) -> (P, 2 + 4*octaves): coords, sin and cos of 2^o * pi * coords, o < octaves."""
    freqs = math.pi * 2.0 ** torch.arange(octaves, dtype=coords.dtype)
    angles = (coords[:, :, None] * freqs).reshape(coords.shape[0], -1)
    return torch.cat([coords, angles.sin(), angles.cos()], dim=-1)


class SoftPositionEmbedding(nn.Module):
    """Adds a linear map of (x, y, 1 - x, 1 - y) (coordinates in [0, 1]) to (B, N, D) tokens."""

    grid: torch.Tensor

    def __init__(self, side: int, width: int) -> None:
        super().__init__()
        g = (pixel_grid(side) + 1.0) / 2.0
        self.register_buffer("grid", torch.cat([g, 1.0 - g], dim=-1), persistent=False)
        self.proj = nn.Linear(4, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.proj(self.grid)


class ImageTokens(nn.Module):
    """CNN tokenizer: (B, 3, H, W) -> (B, (H/s)*(W/s), width) with s = ``downsample`` (1, 2
    or 4 from that many stride-2 convolutions), with soft position embedding. Three
    ``cnn_kernel`` (k) convolutions with strides 1, s_1, s_2 and a 3 x 3 one: a token sees
    1 + (k - 1)(2 + s_1) + 2 s_1 s_2 pixels across (21 for k = 5 at s = 2, 13 for k = 3): on
    16 x 16 scenes a k = 5 token sees the whole image, a k = 3 one its object and the
    neighbourhood."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c, k = config.cnn_channels, config.cnn_kernel
        strides = DOWNSAMPLE_STRIDES[config.downsample]
        self.cnn = nn.Sequential(
            nn.Conv2d(3, c, k, padding=k // 2), nn.ReLU(),
            nn.Conv2d(c, c, k, stride=strides[0], padding=k // 2), nn.ReLU(),
            nn.Conv2d(c, c, k, stride=strides[1], padding=k // 2), nn.ReLU(),
            nn.Conv2d(c, config.width, 3, padding=1),
        )
        self.position = SoftPositionEmbedding(config.size // config.downsample, config.width)
        self.mlp = nn.Sequential(nn.LayerNorm(config.width), nn.Linear(config.width, config.width),
                                 nn.ReLU(), nn.Linear(config.width, config.width))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.cnn(images).flatten(2).transpose(1, 2)
        return self.mlp(self.position(tokens))


class PosteriorHead(nn.Module):
    """Per-slot linear map (B, K, width) -> mu, logvar (B, K, d_slot); the log-variance bias
    starts at ``logvar_init`` (0: posterior std about 1 at initialization; negative: less
    sampling noise while the encoder learns to carry the image)."""

    def __init__(self, width: int, slot_dim: int, logvar_init: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, 2 * slot_dim)
        with torch.no_grad():
            self.linear.bias[slot_dim:] += logvar_init

    def forward(self, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.linear(self.norm(slots)).chunk(2, dim=-1)
        return mu, logvar


class SlotInitializer(nn.Module):
    """The encoder's K starting slot vectors (B, K, width).

    ``learned``: one learned vector per slot (slot k always starts from the same point, so
    slots carry an identity, e.g. a region of the image). ``random`` (Locatello et al. 2020):
    s_k = mu + e^{log_sigma} * eps_k with mu, log_sigma (width,) learned and shared by all
    slots and eps_k standard normal, drawn anew for every image in training mode (``noise``
    (B, K, width), or torch's global generator when not given); in eval mode eps is a fixed
    draw (a buffer made at construction), so evaluation is deterministic. The slots are then
    exchangeable: no slot can own a fixed part of the image.
    """

    eval_noise: torch.Tensor

    def __init__(self, kind: str, slots: int, width: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.queries = nn.Parameter(torch.randn(slots, width) * 0.02)
        else:
            self.mu = nn.Parameter(torch.randn(width) * 0.02)
            self.log_sigma = nn.Parameter(torch.zeros(width))
            self.register_buffer("eval_noise", torch.randn(slots, width))

    def forward(self, batch: int, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "learned":
            return self.queries.expand(batch, -1, -1)
        if not self.training:
            eps = self.eval_noise.expand(batch, -1, -1)
        elif noise is None:
            eps = torch.randn(batch, *self.eval_noise.shape, device=self.mu.device)
        else:
            eps = noise.to(self.mu.dtype)
        return self.mu + self.log_sigma.exp() * eps


class CompetitiveCrossAttention(nn.Module):
    """Cross-attention in which the slots compete for the tokens (Slot Attention's
    normalization inside a Transformer block, the "inverted attention" of Wu et al. 2023):
    (B, K, D) queries, (B, N, D) tokens -> (B, K, D).

    Per head h, logits l_{k,n} = <W_q s_k, W_k t_n>_h / sqrt(D/h); A = softmax over the K slots
    (each token is shared out among the slots, so two slots cannot both take an object whole),
    then each slot's weights are renormalized over the tokens, W = A / sum_n A (+1e-8), and
    slot k receives W_o sum_n W_{k,n} W_v t_n.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width, bias=False)
        self.kv = nn.Linear(width, 2 * width, bias=False)
        self.out = nn.Linear(width, width)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, k, d = queries.shape
        h = self.heads
        q = self.q(queries).view(b, k, h, d // h) / math.sqrt(d // h)
        key, v = self.kv(tokens).view(b, tokens.shape[1], 2, h, d // h).unbind(dim=2)
        attn = torch.einsum("bkhd,bnhd->bhkn", q, key).softmax(dim=2) + 1e-8
        attn = attn / attn.sum(dim=-1, keepdim=True)
        return self.out(torch.einsum("bhkn,bnhd->bkhd", attn, v).reshape(b, k, d))


class TokenCrossAttention(nn.MultiheadAttention):
    """Standard cross-attention (softmax over the tokens): (B, K, D), (B, N, D) -> (B, K, D)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__(width, heads, batch_first=True)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(queries, tokens, tokens, need_weights=False)[0]


class QueryBlock(nn.Module):
    """Pre-norm block: queries cross-attend to tokens, self-attend, then an FFN
    (``competitive``: the slots compete for the tokens, :class:`CompetitiveCrossAttention`)."""

    def __init__(self, width: int, heads: int, competitive: bool = False) -> None:
        super().__init__()
        self.norm_q, self.norm_t = nn.LayerNorm(width), nn.LayerNorm(width)
        self.cross: nn.Module = (CompetitiveCrossAttention(width, heads) if competitive
                                 else TokenCrossAttention(width, heads))
        self.norm_s = nn.LayerNorm(width)
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        t = self.norm_t(tokens)
        q = self.norm_q(queries)
        queries = queries + self.cross(q, t)
        s = self.norm_s(queries)
        queries = queries + self.self_attn(s, s, s, need_weights=False)[0]
        return queries + self.ffn(queries)


class TransformerEncoder(nn.Module):
    """K learned queries read the image through Transformer blocks: (B,3,H,W) -> mu, logvar.

    ``competitive``: every block's cross-attention lets the slots compete for the tokens
    (:class:`CompetitiveCrossAttention`; the ``inverted-transformer`` encoder)."""

    def __init__(self, config: ModelConfig, competitive: bool = False) -> None:
        super().__init__()
        self.tokens = ImageTokens(config)
        self.init = SlotInitializer(config.slot_init, config.slots, config.width)
        self.blocks = nn.ModuleList(QueryBlock(config.width, config.encoder_heads, competitive)
                                    for _ in range(config.encoder_layers))
        self.head = PosteriorHead(config.width, config.slot_dim, config.logvar_init)

    def forward(self, images: torch.Tensor,
                init_noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.tokens(images)
        q = self.init(images.shape[0], init_noise)
        for block in self.blocks:
            q = block(q, tokens)
        return self.head(q)


class SlotAttentionEncoder(nn.Module):
    """Slot Attention (Locatello et al. 2020) from learned initial slots: -> mu, logvar."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        w = config.width
        self.tokens = ImageTokens(config)
        self.init = SlotInitializer(config.slot_init, config.slots, w)
        self.norm_t, self.norm_s = nn.LayerNorm(w), nn.LayerNorm(w)
        self.q, self.k, self.v = (nn.Linear(w, w, bias=False) for _ in range(3))
        self.gru = nn.GRUCell(w, w)
        self.mlp = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, 2 * w), nn.ReLU(),
                                 nn.Linear(2 * w, w))
        self.iterations = config.iterations
        self.head = PosteriorHead(w, config.slot_dim, config.logvar_init)

    def forward(self, images: torch.Tensor,
                init_noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.norm_t(self.tokens(images))
        k, v = self.k(t), self.v(t)
        slots = self.init(images.shape[0], init_noise)
        b, n_slots, w = slots.shape
        for _ in range(self.iterations):
            logits = self.q(self.norm_s(slots)) @ k.transpose(1, 2) / math.sqrt(w)
            attn = logits.softmax(dim=1) + 1e-8
            attn = attn / attn.sum(dim=-1, keepdim=True)
            updates = attn @ v
            slots = self.gru(updates.reshape(-1, w), slots.reshape(-1, w)).view(b, n_slots, w)
            slots = slots + self.mlp(slots)
        return self.head(slots)


#: Encoder kind (``ModelConfig.encoder``) -> constructor.
ENCODER_CLASSES: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "transformer": TransformerEncoder,
    "inverted-transformer": lambda config: TransformerEncoder(config, competitive=True),
    "slot-attention": SlotAttentionEncoder,
}
ENCODERS = tuple(ENCODER_CLASSES)


class CrossAttentionBlock(nn.Module):
    """Pixel queries attend to slots only: returns new queries (B, P, D) and A (B, P, h, K).

    A_{p,h,k} = softmax_k(<W_q^h LN(q_p), W_k^h LN(s_k)> / sqrt(D/h)) and
    q_p + W_o concat_h(sum_k A_{p,h,k} W_v^h LN(s_k)), then an FFN. Both projections on the
    pixel side are folded onto the K slots, where they cost K instead of P rows:
    <W_q^h x, k> = <x, (W_q^h)^T k> and W_o concat_h(sum_k A_k v_k) = sum_{h,k} A_{h,k}
    W_o^h v_{h,k} (the same parameters and state-dict keys as the direct computation, equal to
    it up to float rounding). ``queries`` may be (1, P, D), shared by the batch (the first
    block's position queries): they are normalized once, and the output broadcasts to
    (B, P, D).

    ``modulation`` (feature-wise linear modulation, FiLM, Perez et al. 2018): before the FFN
    the block also adds (sum_k abar_{p,k} gamma_k) * LN(q_p), with gamma_k = W_g LN(s_k) + b_g
    (D,) and abar_{p,k} = mean_h A_{p,h,k}, so that a slot scales the pixel's features instead
    of only being added to them (a ReLU unit of the FFN then sees a slot-dependent linear
    function of the position features, as the attention logit does). W_g and b_g start at
    zero (the block starts as the unmodulated one). The update stays a sum over the slots
    weighted by the attention: a pixel whose attention sits on one slot depends on that slot
    alone, as without it. W_g, b_g are made without drawing random numbers, so a modulated
    model starts from the parameters of the unmodulated model of the same seed;
    ``modulate=False`` skips the modulation (the unmodulated block, bit for bit, and no
    gradient for W_g, b_g).
    """

    def __init__(self, width: int, heads: int, modulation: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.norm_q, self.norm_s = nn.LayerNorm(width), nn.LayerNorm(width)
        self.q = nn.Linear(width, width, bias=False)
        self.kv = nn.Linear(width, 2 * width, bias=False)
        self.out = nn.Linear(width, width)
        self.gamma: nn.Linear | None = None
        if modulation:  # starts at zero: the block begins as the unmodulated one
            self.gamma = nn.utils.skip_init(nn.Linear, width, width)
            nn.init.zeros_(self.gamma.weight)
            nn.init.zeros_(self.gamma.bias)
        self.ffn = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.ReLU(),
                                 nn.Linear(2 * width, width))

    def _keys_values(self, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head keys and values W_k^h LN(s_k), W_v^h LN(s_k): slots (B, K, D) -> two
        (B, K, h, D/h)."""
        b, n_slots, d = slots.shape
        kv = self.kv(self.norm_s(slots)).view(b, n_slots, 2, self.heads, d // self.heads)
        return kv[:, :, 0], kv[:, :, 1]

    def forward(self, queries: torch.Tensor, slots: torch.Tensor,
                modulate: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        b, n_slots, d = slots.shape
        h = self.heads
        k, v = self._keys_values(slots)
        # (W_q^h)^T k_{k,h} and W_o^h v_{k,h}: (B, h*K, D), rows ordered (head, slot)
        keys = torch.einsum("bkhe,hed->bhkd", k, self.q.weight.view(h, d // h, d))
        values = torch.einsum("bkhe,dhe->bhkd", v, self.out.weight.view(d, h, d // h))
        normed = self.norm_q(queries)
        logits = normed @ keys.reshape(b, h * n_slots, d).transpose(1, 2)
        p = logits.shape[1]
        attn = (logits.view(b, p, h, n_slots) / math.sqrt(d // h)).softmax(dim=-1)
        mixed = attn.reshape(b, p, h * n_slots) @ values.reshape(b, h * n_slots, d)
        queries = self._modulated(queries + mixed + self.out.bias, normed, slots, attn,
                                  modulate)
        return queries + self.ffn(queries), attn

    def _modulated(self, queries: torch.Tensor, normed: torch.Tensor, slots: torch.Tensor,
                   attn: torch.Tensor, modulate: bool) -> torch.Tensor:
        """``queries`` + (sum_k abar_{p,k} gamma_k) * LN(q_p), (B, P, D), with
        gamma_k = W_g LN(s_k) + b_g and abar the attention averaged over the heads;
        ``queries`` unchanged without modulation or with ``modulate=False``."""
        if self.gamma is None or not modulate:
            return queries
        return queries + (attn.mean(dim=2) @ self.gamma(self.norm_s(slots))) * normed

    def direct(self, queries: torch.Tensor, slots: torch.Tensor,
               modulate: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The same block computed as written, projecting every pixel's query and mixed
        value (P rows per projection instead of K): the reference of :meth:`forward` in the
        tests and in ``bench.bench_sprites``."""
        queries = queries.expand(slots.shape[0], -1, -1)  # a copy of shared queries per sample
        b, p, d = queries.shape
        h = self.heads
        normed = self.norm_q(queries)
        q = self.q(normed).view(b, p, h, d // h)
        k, v = self._keys_values(slots)
        attn = (torch.einsum("bphe,bkhe->bphk", q, k) / math.sqrt(d // h)).softmax(dim=-1)
        mixed = torch.einsum("bphk,bkhe->bphe", attn, v).reshape(b, p, d)
        queries = self._modulated(queries + self.out(mixed), normed, slots, attn, modulate)
        return queries + self.ffn(queries), attn


class TransformerDecoder(nn.Module):
    """Cross-attention-only decoder with per-pixel Fourier queries: (B, K, d_slot) -> Decoded."""

    features: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        w = config.width
        self.size = config.size
        self.register_buffer("features", fourier_features(pixel_grid(config.size),
                                                          config.octaves), persistent=False)
        self.query_mlp = nn.Sequential(nn.Linear(self.features.shape[1], w), nn.ReLU(),
                                       nn.Linear(w, w))
        self.slot_in = nn.Sequential(nn.Linear(config.slot_dim, 4 * w), nn.GELU(),
                                     nn.Linear(4 * w, w))
        self.blocks = nn.ModuleList(CrossAttentionBlock(w, config.decoder_heads,
                                                        config.modulation)
                                    for _ in range(config.decoder_layers))
        self.out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 3))

    def forward(self, z: torch.Tensor, pixels: torch.Tensor | None = None,
                modulate: bool = True) -> Decoded:
        """z (B, K, d_slot) -> image (B, 3, H, W); with ``pixels`` (P',) (row-major indices
        into the H*W grid) only those pixels: image (B, 3, P'), attention (B, L, P', h, K).
        ``modulate=False``: the blocks skip their modulation (see :class:`CrossAttentionBlock`)."""
        slots = self.slot_in(z)
        features = self.features if pixels is None else self.features[pixels]
        q = self.query_mlp(features)[None]  # (1, P, D): the first block broadcasts it
        maps = []
        for block in self.blocks:
            q, attn = block(q, slots, modulate)
            maps.append(attn)
        image = self.out(q).transpose(1, 2)
        if pixels is None:
            image = image.reshape(z.shape[0], 3, self.size, self.size)
        return Decoded(image=image, attention=torch.stack(maps, dim=1))


class SpatialBroadcastDecoder(nn.Module):
    """Spatial broadcast decoder (Watters et al. 2019) with softmax masks over slots."""

    grid: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config.cnn_channels
        self.size = config.size
        self.register_buffer("grid", pixel_grid(config.size).T.reshape(2, config.size,
                                                                      config.size),
                             persistent=False)
        self.cnn = nn.Sequential(
            nn.Conv2d(config.slot_dim + 2, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 4, 3, padding=1),
        )

    def forward(self, z: torch.Tensor, pixels: torch.Tensor | None = None,
                modulate: bool = True) -> Decoded:
        """z (B, K, d_slot) -> image (B, 3, H, W) and masks (B, K, H*W); ``modulate`` is
        ignored (no modulation)."""
        if pixels is not None:
            raise ConfigError("the spatial broadcast decoder renders whole images only (its "
                              "CNN needs every pixel's neighbours): pixel_fraction must be 1")
        b, k, d = z.shape
        s = self.size
        tiled = z.reshape(b * k, d, 1, 1).expand(-1, -1, s, s)
        grid = self.grid.expand(b * k, -1, -1, -1)
        out = self.cnn(torch.cat([tiled, grid], dim=1)).view(b, k, 4, s, s)
        masks = out[:, :, 3].softmax(dim=1)
        image = (masks[:, :, None] * out[:, :, :3]).sum(dim=1)
        return Decoded(image=image, masks=masks.reshape(b, k, s * s))


@dataclass
class VAEOutput:
    """SlotVAE output: mu, logvar, z (B, K, d_slot) and the decoder's :class:`Decoded`."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    decoded: Decoded


class SlotVAE(nn.Module):
    """Encoder -> Gaussian posterior over slots -> decoder (prior N(0, I))."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = ENCODER_CLASSES[config.encoder](config)
        self.decoder = (TransformerDecoder(config) if config.decoder == "transformer"
                        else SpatialBroadcastDecoder(config))

    def forward(self, images: torch.Tensor, noise: torch.Tensor | None = None,
                init_noise: torch.Tensor | None = None,
                pixels: torch.Tensor | None = None, step: int | None = None) -> VAEOutput:
        """images (B, 3, H, W) -> :class:`VAEOutput`.

        In training mode z = mu + e^{logvar/2} * noise with ``noise`` (B, K, d) standard normal
        (drawn from torch's global generator when not given); in eval mode z = mu.
        ``init_noise`` (B, K, width): the eps of the random slot initialization
        (:class:`SlotInitializer`; ignored with ``slot_init="learned"``). ``pixels`` (P',):
        decode only these pixels (Transformer decoder; see :class:`Decoded`). ``step``: the
        training step, which switches the decoder's modulation on at
        ``config.modulation_start`` (None: a trained model, modulation on).
        """
        mu, logvar = self.encoder(images, init_noise)
        if self.training:
            eps = torch.randn_like(mu) if noise is None else noise.to(mu.dtype)
            z = mu + (0.5 * logvar).exp() * eps
        else:
            z = mu
        modulate = step is None or step >= self.config.modulation_start
        return VAEOutput(mu=mu, logvar=logvar, z=z, decoded=self.decoder(z, pixels, modulate))


def make_model(config: ModelConfig, seed: int = 0) -> SlotVAE:
    """A :class:`SlotVAE` whose parameters are initialized from ``seed``."""
    config.validate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SlotVAE(config)
