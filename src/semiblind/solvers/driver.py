"""The one iteration driver shared by every iterative solver, and the layer loop of the unrolled networks.

A solver describes one iteration as a *step function* on a batched state (a dict of tensors with a leading
batch axis ``B``); :func:`iterate` runs it and owns everything around it:

- per-sample stopping: each sample of a batch stops when the step reports it done; stopped samples are frozen
  by a mask (their state keeps its values) while the others go on, and the loop ends when none is left;
- the counters ``n_iter (B,)`` (iterations each sample actually ran) and ``converged (B,)``;
- the history of the first sample, grown with the iterations actually run (never preallocated from
  ``max_iter``), optionally bounded to the last ``history_window`` values;
- an optional ``callback(k, state) -> bool`` (``True`` stops every sample, which then counts as not converged);
- a tqdm progress bar when ``verbose=True``.

A step is ``step(k, state, ctx) -> (new_state, done, trace)``: ``k`` the 0-based iteration, ``state`` the
current values, ``ctx`` the :class:`IterationState` (``ctx.record`` says whether the first sample's trace is
wanted this iteration); ``new_state`` holds the keys that change (``(B, ...)`` tensors), ``done`` a ``(B,)``
boolean tensor (the tolerance is met; None: not tested at this iteration), ``trace`` a dict of the first
sample's scalars (0-d tensors or ``(B,)`` tensors, of which the first entry is kept) or None.

An unrolled network is the same step functions over ``K`` layers with learned per-layer parameters:
:func:`unroll` runs a step ``K`` times without stopping and optionally keeps every layer's values.

Memory: the state is replaced in place of the previous one, the history holds one float per recorded value and
iteration (flushed from tensors to Python floats every :data:`FLUSH_EVERY` iterations, so there is one
device synchronisation per block); nothing is allocated in proportion to ``max_iter``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

FLUSH_EVERY = 256
"""Recorded traces are converted to Python floats in blocks of this many iterations."""

Step = Callable[[int, dict[str, torch.Tensor], "IterationState"], tuple[Mapping[str, torch.Tensor],
                                                                        torch.Tensor | None, Mapping | None]]


@dataclass
class IterationState:
    """What the driver knows between two iterations (passed to the step as ``ctx`` and to the callback).

    ``k``: iterations run so far by the loop; ``values``: the batched state; ``active (B,)``: samples still
    iterating; ``n_iter (B,)``, ``converged (B,)``; ``record``: whether the step should compute the first
    sample's trace this iteration (history on and the first sample active).
    """

    k: int
    values: dict[str, torch.Tensor]
    active: torch.Tensor
    n_iter: torch.Tensor
    converged: torch.Tensor
    record: bool = False


@dataclass
class IterationResult:
    """What :func:`iterate` returns: the final state, ``n_iter (B,)``, ``converged (B,)``, the first sample's
    ``history`` (name → list of floats, one per iteration it ran) and whether the callback stopped the loop."""

    values: dict[str, torch.Tensor]
    n_iter: torch.Tensor
    converged: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    stopped_by_callback: bool = False


class _History:
    """First-sample traces: tensors buffered per iteration, flushed to floats in blocks (bounded if asked)."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.names: list[str] = []
        self.values: dict[str, deque | list] = {}
        self._pending: list[torch.Tensor] = []

    def add(self, trace: Mapping[str, Any]) -> None:
        if not self.names:
            self.names = list(trace)
            self.values = {k: (deque(maxlen=self.window) if self.window else []) for k in self.names}
        dev = next((v.device for v in trace.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
        row = [v.detach().reshape(-1)[0].to(torch.float64) if isinstance(v, torch.Tensor)
               else torch.tensor(float(v), dtype=torch.float64, device=dev) for v in (trace[k] for k in self.names)]
        self._pending.append(torch.stack(row))
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            block = torch.stack(self._pending).cpu().tolist()
            self._pending = []
            for row in block:
                for k, v in zip(self.names, row):
                    self.values[k].append(v)

    def as_dict(self) -> dict[str, list[float]]:
        self.flush()
        return {k: list(v) for k, v in self.values.items()}


def _merge(old: dict[str, torch.Tensor], new: Mapping[str, torch.Tensor], keep: torch.Tensor | None,
           B: int) -> dict[str, torch.Tensor]:
    """``old`` updated by ``new``; where ``keep`` (B,) is False the old values are kept (frozen samples)."""
    out = dict(old)
    for name, value in new.items():
        prev = old.get(name)
        if keep is None or prev is None or value is None or value.ndim == 0 or value.shape[0] != B:
            out[name] = value
        else:
            out[name] = torch.where(keep.reshape(B, *([1] * (value.ndim - 1))), value, prev)
    return out


def iterate(
    step: Step,
    state: Mapping[str, torch.Tensor],
    *,
    batch: int,
    max_iter: int,
    device: Any = None,
    active: torch.Tensor | None = None,
    record_history: bool = True,
    history_window: int | None = None,
    callback: Callable[[int, IterationState], Any] | None = None,
    verbose: bool = False,
    desc: str = "",
) -> IterationResult:
    """Run ``step`` until every sample of the batch is done or ``max_iter`` iterations (see the module docstring).

    Parameters
    ----------
    step : the iteration, ``step(k, state, ctx) -> (new_state, done, trace)``.
    state : the initial batched values (dict of tensors with a leading ``B``).
    batch : ``B``. max_iter : the most iterations (an int ≥ 0; nothing is sized by it).
    device : where the counters live (default: that of the first tensor of ``state``).
    active : ``(B,)`` samples to iterate (default all); the others start frozen and are reported converged.
    record_history : keep the first sample's traces; ``history_window`` keeps only the last so many values.
    callback : ``callback(k, ctx)`` after each iteration (``k`` 1-based count, ``ctx`` an
        :class:`IterationState`); a true return value stops the loop.
    verbose, desc : tqdm progress bar (total ``max_iter``, postfix the number of active samples).
    """
    if device is None:
        device = next(iter(state.values())).device if state else torch.device("cpu")
    B = int(batch)
    act = torch.ones(B, dtype=torch.bool, device=device) if active is None else active.clone()
    ctx = IterationState(k=0, values=dict(state), active=act, n_iter=torch.zeros(B, dtype=torch.long,
                                                                                   device=device),
                         converged=~act)
    hist = _History(history_window) if record_history else None
    bar = None
    if verbose:
        from .._progress import tqdm  # bar on a terminal, one line per stage in a log

        bar = tqdm(total=max_iter, desc=desc or "iterations", leave=False)
    stopped = False
    n_active = int(act.sum())
    k = 0
    try:
        while k < max_iter and n_active > 0:
            ctx.k = k
            ctx.record = hist is not None and bool(ctx.active[0])
            new, done, trace = step(k, ctx.values, ctx)
            keep = None if n_active == B else ctx.active
            ctx.values = _merge(ctx.values, new, keep, B)
            if ctx.record and trace:
                hist.add(trace)
            ctx.n_iter += ctx.active
            if done is not None:
                done = ctx.active & done
                ctx.converged |= done
                ctx.active &= ~done
            k += 1
            n_active = int(ctx.active.sum())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(active=n_active, refresh=False)
            if callback is not None and callback(k, ctx):
                stopped = True
                break
    finally:
        if bar is not None:
            bar.close()
    return IterationResult(values=ctx.values, n_iter=ctx.n_iter, converged=ctx.converged,
                           history=hist.as_dict() if hist is not None else {}, stopped_by_callback=stopped)


def unroll(
    step: Callable[[int, dict[str, torch.Tensor]], Mapping[str, torch.Tensor]],
    state: Mapping[str, torch.Tensor],
    *,
    layers: int,
    keep: tuple[str, ...] = (),
) -> tuple[dict[str, torch.Tensor], dict[str, list[torch.Tensor]]]:
    """The layer loop of an unrolled network: ``state ← state | step(k, state)`` for ``k = 0 … layers−1``.

    Same step functions as the classical solver, with the layer's learned parameters chosen by ``k``; no
    stopping, no masks (every sample runs every layer, and gradients flow through all of them). Returns the
    final state and, for every name in ``keep``, the list of its per-layer values (length ``layers``).
    """
    values = dict(state)
    per_layer: dict[str, list[torch.Tensor]] = {name: [] for name in keep}
    for k in range(int(layers)):
        values.update(step(k, values))
        for name in keep:
            per_layer[name].append(values[name])
    return values, per_layer


def summary_line(name: str, n_iter: Any, converged: Any) -> str:
    """``"<name>: <max n_iter> iteration(s), <c>/<B> converged"`` — the one line a ``verbose`` fit prints."""
    it = torch.as_tensor(n_iter).reshape(-1)
    conv = torch.as_tensor(converged).reshape(-1)
    return f"{name}: {int(it.max())} iteration(s), {int(conv.sum())}/{conv.numel()} converged"


__all__ = ["FLUSH_EVERY", "IterationResult", "IterationState", "iterate", "summary_line", "unroll"]
