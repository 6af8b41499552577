"""A population of independently initialized models of one architecture, trained as one.

Gradient descent on an autoencoder with slots of several latents stops, for a sizeable share of
initializations, in a slot-mixing local minimum whose reconstruction error is 10-300x that of
the slot-wise solutions. The remedy that needs no ground truth is to train several
initializations and keep the one that reconstructs held-out data best. :class:`Population`
makes that cheap: the R members' parameters are stacked along a new leading axis
(``torch.func.stack_module_state``) and every call is one ``torch.func.vmap`` over
``torch.func.functional_call`` of a shared template, so R small models cost one pass of R-times
wider tensor operations instead of R Python loops (on 2 CPU cores 8 members of the 3x2-slot
autoencoder take about 3x the time of one).

The members stay independent: the loss to minimize is the *sum* of the member losses, so each
member's gradient is its own gradient; AdamW and weight decay act element-wise; gradient
clipping is done per member (:meth:`Population.clip_grad_norm_`). Member r of a population is
therefore trained exactly as it would be alone on the same batches, up to floating-point
summation order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from numerics.core.errors import ConfigError

Tensor = torch.Tensor
#: What a function of a member returns; stacked over the members it keeps its structure.
Out = TypeVar("Out")

__all__ = ["Population", "SingleMember"]


def _in_dims(args: Sequence[object], in_dims: Sequence[int | None] | None
             ) -> tuple[int | None, ...]:
    """Per argument: None (shared by all members, the default) or its member axis."""
    dims = tuple(in_dims) if in_dims is not None else (None,) * len(args)
    if len(dims) != len(args):
        raise ConfigError(f"in_dims has {len(dims)} entries for {len(args)} arguments")
    return dims


def _member_axis(arg: object) -> Tensor:
    """A per-member argument (one with an ``in_dims`` axis): a tensor."""
    if not isinstance(arg, Tensor):
        raise ConfigError(f"a per-member argument must be a tensor, got {type(arg).__name__}")
    return arg


class _Apply(nn.Module):
    """Adapter: ``forward(*args) = fn(inner, *args)``, so any function of a member can be
    vmapped through ``functional_call`` (which only calls ``forward``)."""

    def __init__(self, inner: nn.Module, fn: Callable[..., object]) -> None:
        super().__init__()
        self.inner, self.fn = inner, fn

    def forward(self, *args: object) -> object:
        return self.fn(self.inner, *args)


class Population(nn.Module):
    """R members of one architecture with stacked parameters and buffers.

    ``members``: modules with identical structure (same parameter and buffer names and shapes),
    typically the same constructor called with R seeds. ``population(*args)`` is
    ``(member_0(*args), ..., member_{R-1}(*args))`` stacked along a new leading axis: every
    output tensor gets shape ``(R, ...)``; the inputs are shared by all members.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ConfigError("a population needs at least one member")
        params, buffers = stack_module_state(members)
        self.param_names: tuple[str, ...] = tuple(params)
        self.buffer_names: tuple[str, ...] = tuple(buffers)
        self.stacked = nn.ParameterList([nn.Parameter(params[n].detach().clone())
                                         for n in self.param_names])
        for i, name in enumerate(self.buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[name].clone())
        # the template holds the structure only (on the meta device, outside the module tree)
        self._template = (copy.deepcopy(members[0]).to("meta"),)

    @property
    def size(self) -> int:
        """Number of members R."""
        return int(self.stacked[0].shape[0]) if len(self.stacked) else 0

    def buffer(self, name: str) -> Tensor:
        """The stacked buffer ``name`` of the members, shape ``(R, ...)``."""
        if name not in self.buffer_names:
            raise ConfigError(f"the members have no buffer {name!r}")
        return getattr(self, f"buffer_{self.buffer_names.index(name)}")

    def _stacked_buffers(self) -> list[Tensor]:
        return [getattr(self, f"buffer_{i}") for i in range(len(self.buffer_names))]

    def _state(self) -> dict[str, Tensor]:
        state = {f"inner.{n}": p for n, p in zip(self.param_names, self.stacked, strict=True)}
        state.update({f"inner.{n}": b for n, b in zip(self.buffer_names, self._stacked_buffers(),
                                                         strict=True)})
        return state

    def call(self, fn: Callable[..., Out], *args: object,
             in_dims: Sequence[int | None] | None = None) -> Out:
        """``fn(member, *args)`` for every member, stacked along a new leading axis.

        ``in_dims``: per argument, ``None`` (shared by all members, the default) or the axis of
        a per-member argument (its size there must be R).
        """
        adapter = _Apply(self._template[0], fn)
        names = list(self._state())

        def one(values: tuple[Tensor, ...], *a: object) -> Out:
            return functional_call(adapter, dict(zip(names, values, strict=True)), a,
                                   strict=True)

        dims = _in_dims(args, in_dims)
        return vmap(one, in_dims=(0, *dims), randomness="different")(
            tuple(self._state().values()), *args)

    def forward(self, *args: object) -> object:
        """Every member's ``forward(*args)``, stacked: outputs ``(R, ...)``."""
        return self.call(lambda m, *a: m(*a), *args)

    def member(self, r: int) -> nn.Module:
        """A standalone copy of member ``r`` (a module of the original class, on the CPU)."""
        if not 0 <= r < self.size:
            raise ConfigError(f"member {r} out of range for a population of {self.size}")
        module = copy.deepcopy(self._template[0]).to_empty(device="cpu")
        state = {n: p[r].detach().cpu().clone()
                 for n, p in zip(self.param_names, self.stacked, strict=True)}
        state.update({n: b[r].detach().cpu().clone()
                      for n, b in zip(self.buffer_names, self._stacked_buffers(), strict=True)})
        module.load_state_dict(state, strict=True)
        return module

    def subset(self, indices: Sequence[int]) -> Population | SingleMember:
        """A new population of the members ``indices`` (copies, in that order); one member
        becomes a :class:`SingleMember` (the same interface without vmap, which costs about
        1.7x per step for a single small model on the CPU)."""
        if len(indices) == 1:
            return SingleMember(self.member(int(indices[0])))
        return Population([self.member(int(r)) for r in indices])

    def update_members(self, fn: Callable[[nn.Module], None]) -> None:
        """Apply an in-place ``fn(member)`` (e.g. a buffer change) to every member."""
        for r in range(self.size):
            module = self.member(r)
            fn(module)
            state = module.state_dict()
            with torch.no_grad():
                for n, p in zip(self.param_names, self.stacked, strict=True):
                    p[r].copy_(state[n])
                for n, b in zip(self.buffer_names, self._stacked_buffers(), strict=True):
                    b[r].copy_(state[n])

    @torch.no_grad()
    def clip_grad_norm_(self, max_norm: float) -> Tensor:
        """Clip each member's gradient to Euclidean norm ``max_norm``; returns the R norms.

        The same rule as ``torch.nn.utils.clip_grad_norm_`` applied to one member alone:
        g_r <- g_r * min(1, max_norm / (|g_r| + 1e-6)).
        """
        grads = [p.grad for p in self.stacked if p.grad is not None]
        if not grads:
            return torch.zeros(self.size)
        norms = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.ndim - 1))).to(g.dtype))
        return norms


class SingleMember(nn.Module):
    """A population of one: :class:`Population`'s interface on a plain module, no vmap.

    Outputs get the leading member axis of size 1, so a loss written for populations works
    unchanged; parameters are the module's own (``module.*`` in the state dict).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    @property
    def size(self) -> int:
        """Always 1."""
        return 1

    def call(self, fn: Callable[..., Out], *args: object,
             in_dims: Sequence[int | None] | None = None) -> Out:
        """``fn(module, *args)`` with a leading axis of size 1 added to every output tensor
        (per-member arguments, ``in_dims`` not None, have that axis removed first)."""
        dims = _in_dims(args, in_dims)
        inputs = [a if d is None else _member_axis(a).select(d, 0)
                  for a, d in zip(args, dims, strict=True)]
        return torch.utils._pytree.tree_map(
            lambda t: t.unsqueeze(0) if isinstance(t, Tensor) else t, fn(self.module, *inputs))

    def forward(self, *args: object) -> object:
        """The module's ``forward(*args)`` with a leading member axis of size 1."""
        return self.call(lambda m, *a: m(*a), *args)

    def buffer(self, name: str) -> Tensor:
        """The module's buffer ``name`` with a leading axis of size 1."""
        buffers = dict(self.module.named_buffers())
        if name not in buffers:
            raise ConfigError(f"the member has no buffer {name!r}")
        return buffers[name].unsqueeze(0)

    def member(self, r: int) -> nn.Module:
        """A standalone CPU copy of the module (``r`` must be 0)."""
        if r != 0:
            raise ConfigError(f"member {r} out of range for a population of 1")
        return copy.deepcopy(self.module).cpu()

    def subset(self, indices: Sequence[int]) -> SingleMember:
        """A copy (``indices`` must be ``[0]``)."""
        if list(indices) != [0]:
            raise ConfigError(f"members {list(indices)} out of range for a population of 1")
        return SingleMember(self.member(0))

    def update_members(self, fn: Callable[[nn.Module], None]) -> None:
        """Apply the in-place ``fn`` to the module."""
        fn(self.module)

    @torch.no_grad()
    def clip_grad_norm_(self, max_norm: float) -> Tensor:
        """``torch.nn.utils.clip_grad_norm_`` of the module; returns its norm, shape (1,)."""
        return nn.utils.clip_grad_norm_(self.module.parameters(), max_norm).reshape(1)
