"""The learned separators of the LPALM paper: ``"lpalm"`` and the S-only networks ``"lista"``, ``"lista-cp"``,
``"ista-llt"`` (Fahes, Kervazo, Bobin & Tupin, ICLR 2022). The networks are in :mod:`semiblind.unrolled.lpalm`
and :mod:`semiblind.unrolled.lista`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from .._validation import NONE, Interval, Options, check_initial_mixing
from ..solvers._chunked import ChunkedFitMixin, PixelChunks
from ..solvers.base import FitResult, register
from ..solvers.ista import ARRAY
from ..training.model_files import find_shipped_model, load_model
from ..unrolled.base import UnrolledNet
from ._learned import LearnedSeparator
from ._lpalm_scaling import (
    INPUT_SCALES,
    energy_scale,
    input_scale_factor,
    pixel_factor,
    threshold_scaled,
    wavelet_transform,
)


@register
class LPALMSeparator(ChunkedFitMixin, LearnedSeparator):
    """``semiblind.separate(X, n, method="lpalm")``: LPALM (Fahes et al., ICLR 2022, eq. 8) with a trained model.

    Parameters
    ----------
    n_sources : number of sources; must equal the model's.
    model : a model folder, a shipped model name (e.g. ``"lpalm-xray65"``) or an :class:`~semiblind.unrolled.LPALM`
        module. Default (None): the shipped LPALM whose channel count and source count match X, whose data
        contract expects X's kind of input — image cubes ``(m, H, W)`` get the wavelet-mode
        ``"lpalm-xray65-image"``, pixels ``(m, t)`` the pixel model ``"lpalm-xray65"`` — and, when ``energies`` is
        given, whose energy grid matches too; ``info_["model"]`` / ``Separation.info["model"]`` names it. With
        ``chunk_pixels`` the default is the pixel model for cubes too.
    input_scale : None (default: the mode the model's data contract names, ``preprocessing.input_scale``, else
        ``"energy"``), ``"energy"``, ``"pixel"`` or ``"none"``. LPALM's thresholds θ(k) and steps 1/L_A(k) are
        absolute numbers learned on mixtures of unit-norm spectra and unit-l2 source rows of ``t_train`` pixels;
        the network is not scale-invariant. ``"energy"`` runs it on ``c·X`` with ``c = sqrt(n / ‖Z‖²_F)`` per
        sample, Z what the layers see (X, or its starlet detail scales in wavelet mode), and divides the estimated
        S by ``c``, so ``separate(k·X)`` returns the same A and ``k`` times the S of ``separate(X)``;
        ``info_["input_scale"]`` records ``c``. ``"pixel"`` also multiplies the thresholds by
        ``sqrt(t_train / t)`` (t the pixels the layers see; ``t_train`` from the data contract), which is exactly
        running the network at the per-pixel scale of training whatever the image size (see
        :mod:`semiblind.estimators._lpalm_scaling`). ``"none"`` feeds X as it is (data already on the training
        scale). ``info_["input_scale_mode"]`` says which mode ran.
    A0 : a starting mixing matrix ``Ã(0)`` ``(m, n)`` (channels, sources; or ``(B, m, n)`` for a batch) instead of
        the network's ``1/√m``, or None (default, as trained).
    chunk_pixels : None (default: X converted to one tensor) or an int ≥ 1: :meth:`fit` reads X ``(m, t)`` or
        ``(m, H, W)`` — e.g. a read-only ``np.memmap`` of a FITS file — in chunks of this many pixels and never
        copies it whole (:meth:`semiblind.unrolled.LPALM.forward_chunks`; CLI ``--chunk-pixels``). Pixel models
        only: a cube is separated pixel by pixel with the pixel model (``lpalm-xray65`` by default) and a
        wavelet-mode model raises ``ValueError``. The input scale's energy is summed over the chunks. Same
        result as the in-memory fit up to the order of the floating-point sums; :meth:`transform` and
        :meth:`fit_batch` keep the in-memory path.
    energies : the data's channel energies in keV ``(m,)``, or None. When given, the model's data contract must
        state the same energy grid (channel centres within 5 % of a channel width), else ``ValueError``;
        without it only the channel count is matched. ``semiblind separate`` passes the input file's energy
        axis.
    random_state : unused (a trained network is deterministic).
    dtype, device : computation precision and device.
    verbose : print the model used and the time taken (stderr).

    ``n_iter_`` is the number of layers; ``converged_`` is True (a network runs a fixed number of layers).
    """

    name = "lpalm"
    family = "unrolled PALM: LISTA-CP step on S, learned step on A"
    reference = "Fahes et al. 2022 (ICLR)"
    model_classes = ("LPALM",)
    needs_model_file = False
    _image_shape: tuple[int, ...] | None = None  # set by _fit_batch for the model choice and the input scale
    _chunked: bool = False  # set by _fit_batch: X read in pixel chunks (chunk_pixels)
    _transform: tuple | None = None  # wavelet mode: X's starlet transform and c, from _input_scale to _forward
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **LearnedSeparator._parameter_constraints,
        "input_scale": [NONE, Options(INPUT_SCALES)],
        "A0": [NONE, ARRAY],
        "chunk_pixels": [Interval(int, 1, None, closed="left"), NONE],
    }

    def __init__(
        self,
        *,
        n_sources: int,
        model: Any = None,
        input_scale: str | None = None,
        A0: Any = None,
        chunk_pixels: int | None = None,
        energies: Any = None,
        random_state: Any = None,
        dtype: str = "float32",
        device: Any = "cpu",
        verbose: bool = False,
    ) -> None:
        super().__init__(n_sources=n_sources, model=model, energies=energies, random_state=random_state,
                         dtype=dtype, device=device, verbose=verbose)
        self.input_scale = input_scale
        self.A0 = A0
        self.chunk_pixels = chunk_pixels

    @classmethod
    def supports_chunks(cls) -> bool:
        """Pixel chunks run LPALM's own layers (:meth:`semiblind.unrolled.LPALM.forward_chunks`): only for the
        ``LPALM`` network class, not for subclasses whose networks redefine a layer (``lpalm-iae``)."""
        return tuple(cls.model_classes) == ("LPALM",)

    def _forward(self, net: UnrolledNet, X: torch.Tensor, image_shape: Any) -> tuple[torch.Tensor, torch.Tensor]:
        A0 = None
        if self.A0 is not None:
            B, m, _ = X.shape
            A0 = check_initial_mixing(self.A0, batch=B, n_channels=m, n_sources=self.n_sources, dtype=X.dtype,
                                      device=X.device)
        chunked = isinstance(X, PixelChunks)
        if self._scale_mode(net) == "pixel":  # (reads only the shape of X)
            net = threshold_scaled(net, pixel_factor(net, X.like() if chunked else X))
        if chunked:
            return net.forward_chunks(X, A0=A0)
        transform, self._transform = self._transform, None
        if transform is not None:  # the starlet transform _input_scale computed, scaled like X: not done twice
            details, coarse, c = transform
            del transform  # (scaled in place: no second copy of the details in memory)
            return net(X, image_shape=image_shape, A0=A0, transform=(details.mul_(c[..., None]), coarse.mul_(c)))
        return net(X, image_shape=image_shape, A0=A0)

    def _scale_mode(self, net: UnrolledNet) -> str:
        """``input_scale``, or the mode the model's data contract names (``"energy"`` when it names none)."""
        if self.input_scale is not None:
            return self.input_scale
        named = ((getattr(net, "contract", {}) or {}).get("preprocessing") or {}).get("input_scale")
        return named if named in INPUT_SCALES else "energy"

    def _input_scale(self, X: torch.Tensor) -> torch.Tensor | None:
        self._transform = None
        if self._scale_mode(self.model_) == "none":
            return None
        # ‖Z‖ > 0: check_data rejects all-zero data
        if isinstance(X, PixelChunks):  # a pixel model's Z is X: its energy summed over the chunks
            energy = sum(Xb.square().sum() for _, _, Xb in X)
            # input_scale_factor's formula on a one-entry stand-in of that energy, √E, whose square is E
            return input_scale_factor(self.model_, energy.sqrt().reshape(1, 1, 1), None, self.n_sources)
        net = self.model_
        if getattr(net, "wavelet", False):  # keep the transform for _forward (linear: c·X transforms to c·W)
            details, coarse = wavelet_transform(net, X, self._image_shape)
            c = energy_scale(details.reshape(X.shape[0], X.shape[1], -1), self.n_sources)
            self._transform = (details, coarse, c.reshape(-1, 1, *([1] * (coarse.ndim - 2))))
            return c
        return input_scale_factor(net, X, self._image_shape, self.n_sources)

    def _resolve_model(self, m: int) -> tuple[UnrolledNet, str]:
        net, label = self._find_model(m)
        if self._chunked and getattr(net, "wavelet", False):
            raise ValueError(f"model must be a pixel-model LPALM (wavelet=False) with chunk_pixels: a wavelet-mode "
                             f"model's starlet transform mixes neighbouring pixels across chunks; got {label}, a "
                             "wavelet-mode model (use lpalm-xray65, or drop chunk_pixels / --chunk-pixels).")
        return net, label

    def _find_model(self, m: int) -> tuple[UnrolledNet, str]:
        if self.model is not None:
            return super()._resolve_model(m)
        # X in pixel chunks is separated pixel by pixel: the pixel model, also for a cube
        kind = "image" if self._image_shape is not None and not self._chunked else "pixels"
        try:
            label = find_shipped_model(m, self.n_sources, classes=self.model_classes, energies=self.energies,
                                       data_kind=kind)
        except ValueError:
            if kind == "pixels":
                raise
            # no shipped image model fits: the pixel model (wavelet or not) still separates a cube
            label = find_shipped_model(m, self.n_sources, classes=self.model_classes, energies=self.energies)
        net = load_model(label)
        net.check_data(m, self.n_sources)
        return net.to(dtype=self._dtype, device=self._device).eval(), label

    def _fit_batch(self, X: torch.Tensor | PixelChunks, *, image_shape: tuple[int, ...] | None) -> FitResult:
        self._image_shape = image_shape
        self._chunked = isinstance(X, PixelChunks)
        res = super()._fit_batch(X, image_shape=image_shape)
        res.info["input_scale_mode"] = self._scale_mode(self.model_)
        if self._chunked:
            res.info.update(chunk_pixels=X.chunk_pixels, chunks=X.n_chunks)
        return res


# The S-only networks separate with their reference mixing matrix ``A_ref`` (returned as the estimated A); their
# model folder is required (nothing is shipped for them).


@register
class LISTASeparator(LearnedSeparator):
    """``method="lista"``: LISTA (Gregor & LeCun 2010) with a trained model folder (``model`` is required)."""

    name = "lista"
    family = "unrolled ISTA, learned W1, W2, θ"
    reference = "Gregor & LeCun 2010"
    model_classes = ("LISTA",)


@register
class LISTACPSeparator(LearnedSeparator):
    """``method="lista-cp"``: LISTA-CP (Chen et al. 2018) with a trained model folder (``model`` is required)."""

    name = "lista-cp"
    family = "unrolled ISTA with coupled weights"
    reference = "Chen et al. 2018"
    model_classes = ("LISTACP",)


@register
class ISTALLTSeparator(LearnedSeparator):
    """``method="ista-llt"``: ISTA with learned steps and thresholds, from a trained model folder (required)."""

    name = "ista-llt"
    family = "ISTA with learned step and threshold per layer"
    reference = "Chen et al. 2018"
    model_classes = ("ISTALLT",)


__all__ = ["ISTALLTSeparator", "LISTACPSeparator", "LISTASeparator", "LPALMSeparator"]
