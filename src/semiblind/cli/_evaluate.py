"""``semiblind evaluate``: compare a separation result with the ground truth.

Example::

    semiblind evaluate result.npz --truth data.npz --json metrics.json

The estimate is aligned on the truth (:func:`semiblind.metrics.align`: permutation, sign and scale of
the columns of A), then NMSE (linear and dB), SAD (mean cosine), SAD dB and the gain-only BSS-eval ratios
SDR / SIR / SAR (and SNR when the truth file holds the noise) are printed per source and overall
(:func:`semiblind.metrics.evaluate`).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from .._files import atomic_write_text, check_output_dir, check_output_path
from .._json import dumps as json_dumps
from ._common import UsageError, add_overwrite
from ._runtime import add_spectral_axis, choose_threads, load_data


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a separation result against the ground truth",
        description="Align RESULT (A, S) on the ground truth of TRUTH and print NMSE, SAD, SAD dB and "
        "BSS-eval (SDR, SIR, SAR; SNR when TRUTH holds the noise) per source and overall.",
    )
    p.add_argument("result", metavar="RESULT", nargs="?", default=None,
                   help="result file written by 'semiblind separate' (omit it with --model)")
    p.add_argument("--model", default=None, metavar="DIR|NAME",
                   help="instead of RESULT: separate TRUTH's data with this trained model (folder or shipped "
                   "name, see `semiblind methods`) and score it")
    p.add_argument("--truth", required=True, metavar="TRUTH", help="data file holding the true A and S")
    p.add_argument("--index", type=int, default=None,
                   help="which mixture of a multi-mixture TRUTH file (default: the one RESULT was made from, "
                   "else 0)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the metrics to this JSON file")
    p.add_argument("--report", default=None, metavar="DIR",
                   help="also write an HTML report with figures (spectra, maps, residual, metric bars) into DIR")
    add_spectral_axis(p, what="TRUTH")
    add_overwrite(p)
    p.set_defaults(func=run)


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.4f}"


def _num(x: Any) -> Any:
    """JSON-friendly numbers; non-finite ones become null when written (the policy of :mod:`semiblind._json`)."""
    if isinstance(x, np.ndarray):
        return [_num(v) for v in x.tolist()]
    if isinstance(x, list):
        return [_num(v) for v in x]
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x
    if isinstance(x, np.integer):
        return int(x)
    return x


def run(args: argparse.Namespace) -> int:
    from .. import io, metrics

    if args.json is not None:
        check_output_path(args.json, overwrite=args.overwrite, argument="--json")
    if args.report is not None:
        check_output_dir(args.report, overwrite=args.overwrite, argument="--report")
    if (args.model is None) == (args.result is None):
        raise UsageError("exactly one of RESULT and --model must be given; got "
                         f"{'both' if args.model is not None else 'neither'}.")
    if args.model is not None:
        truth = load_data(args.truth, spectral_axis=args.spectral_axis, index=args.index, argument="--truth")
        index = args.index
        res = _run_model(args.model, truth, args)
        args.result = f"model {args.model}"
    else:
        res = io.load_result(args.result)
        index = args.index
        if index is None and "index" in res.info and str(args.truth).lower().endswith(".npz"):
            index = int(res.info["index"])
        truth = load_data(args.truth, spectral_axis=args.spectral_axis, index=index, argument="--truth")
    if truth.A is None or truth.S is None:
        raise ValueError(f"--truth {args.truth!r} must hold the true 'A' and 'S' arrays; it has "
                         f"{'neither' if truth.A is None and truth.S is None else 'only one of them'}.")
    A_est, S_est = np.asarray(res.A, dtype=float), np.asarray(res.S, dtype=float)
    A_true, S_true = np.asarray(truth.A, dtype=float), np.asarray(truth.S, dtype=float)
    for who, path, key, arr in (("RESULT", args.result, "A", A_est), ("RESULT", args.result, "S", S_est),
                                ("--truth", args.truth, "A", A_true), ("--truth", args.truth, "S", S_true)):
        n_bad = int(arr.size - np.isfinite(arr).sum())
        if n_bad:  # named here, not as metrics' A_true/S_est
            raise ValueError(f"{who} {str(path)!r} must hold finite values; its {key} has {n_bad} NaN or infinite "
                             "value(s).")
    if A_est.shape != A_true.shape or S_est.size != S_true.size or S_est.shape[0] != S_true.shape[0]:
        raise ValueError(
            f"RESULT and TRUTH do not match: the result has A {A_est.shape} and S {S_est.shape}, the truth "
            f"has A {A_true.shape} and S {S_true.shape} (same channels, sources and pixels are needed)."
        )
    n = A_true.shape[1]
    S_est = S_est.reshape(S_true.shape)
    noise = truth.noise
    scores = metrics.evaluate(A_est, S_est, A_true, S_true, noise=noise)
    A_al, S_al = metrics.align(A_est, S_est, A_true)
    S_al_flat, S_true_flat = S_al.reshape(n, -1), S_true.reshape(n, -1)
    nmse_A = np.atleast_1d(metrics.nmse(A_al.T[:, :, None], A_true.T[:, :, None], batched=True))
    nmse_S = np.atleast_1d(metrics.nmse(S_al_flat[:, :, None], S_true_flat[:, :, None], batched=True))
    nmse_db_A = np.atleast_1d(metrics.nmse_db(A_al.T[:, :, None], A_true.T[:, :, None], batched=True))
    nmse_db_S = np.atleast_1d(metrics.nmse_db(S_al_flat[:, :, None], S_true_flat[:, :, None], batched=True))
    has_snr = "snr" in scores

    cols = ["NMSE A ↓", "(dB) ↓", "NMSE S ↓", "(dB) ↓", "cos A ↑", "SAD A (dB) ↑", "SDR ↑", "SIR ↑", "SAR ↑"]
    cols += ["SNR ↑"] if has_snr else []
    from ..report import source_names

    names = source_names(truth.meta.get("families"), n)
    rows: list[list[str]] = []
    per_source: list[dict[str, Any]] = []
    for j in range(n):
        vals = [nmse_A[j], nmse_db_A[j], nmse_S[j], nmse_db_S[j], scores["sad_A_per_component"][j],
                scores["sad_db_A_per_component"][j], scores["sdr_per_source"][j], scores["sir_per_source"][j],
                scores["sar_per_source"][j]] + ([scores["snr_per_source"][j]] if has_snr else [])
        rows.append([names[j]] + [_fmt(float(v)) for v in vals])
        keys = ["nmse_A", "nmse_db_A", "nmse_S", "nmse_db_S", "sad_A", "sad_db_A", "sdr", "sir", "sar"]
        per_source.append({k: _num(float(v)) for k, v in zip(keys + (["snr"] if has_snr else []), vals)})
    overall = [scores["nmse_A"], scores["nmse_db_A"], scores["nmse_S"], scores["nmse_db_S"], scores["sad_A"],
               scores["sad_db_A"], scores["sdr"], scores["sir"], scores["sar"]]
    overall += [scores["snr"]] if has_snr else []
    rows.append(["overall"] + [_fmt(float(v)) for v in overall])

    head = ["", *cols]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    method = res.info.get("method", "?")
    where = f" (mixture {index})" if index is not None else ""
    print(f"{args.result} ({method}) against {args.truth}{where}, after alignment:")
    for r in [head, *rows]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("↓ lower is better, ↑ higher is better; cos A: mean cosine of the spectra (1 = perfect); SAD A (dB): "
          "the spectral angle in dB; SDR, SIR, SAR: BSS-eval ratios in dB.")

    if args.json is not None:
        out = {
            "result": str(args.result),
            "truth": str(args.truth),
            "index": index,
            "method": method,
            "overall": {k: _num(v) for k, v in scores.items()
                        if not k.endswith(("_per_source", "_per_component")) and k != "perm"},
            "per_source": per_source,
            "perm": _num(scores["perm"]),
        }
        atomic_write_text(args.json, json_dumps(out, indent=2) + "\n", overwrite=args.overwrite)
    if args.report is not None:
        from ..report import write_evaluation_report

        report = write_evaluation_report(args.report, A_est, S_est, A_true, S_true, X=truth.X,
                                         energies=truth.energies, noise=noise, method=method,
                                         overwrite=args.overwrite, families=truth.meta.get("families"),
                                         spectral_unit=truth.spectral_unit)
        print(f"Report: {report}")
    return 0


def _run_model(model: str, truth: Any, args: argparse.Namespace) -> Any:
    """Separate ``truth.X`` with the learned method whose networks include ``model``'s class (for ``--model``)."""
    from types import SimpleNamespace

    from ..api import get_method, methods, separate
    from ..training.model_files import read_config

    klass = read_config(model).get("architecture", {}).get("class")
    names = [name for name in methods() if klass in tuple(getattr(get_method(name), "model_classes", ()) or ())]
    if not names:
        raise ValueError(f"--model {model!r} is a {klass} model, which no separation method uses; see "
                         "`semiblind methods`.")
    if truth.A is None:
        raise ValueError(f"--truth {args.truth!r} must hold the true 'A' and 'S' arrays; it has neither.")
    params: dict[str, Any] = {"model": model}
    cls = get_method(names[0])
    if "energies" in cls.param_names() and truth.energies is not None and (truth.spectral_unit or "keV") == "keV":
        params["energies"] = np.asarray(truth.energies, dtype=float)
    choose_threads(args, int(np.prod(truth.X.shape)))
    sep = separate(truth.X, int(truth.A.shape[1]), method=names[0], **params)
    label = sep.info.get("model", model) if isinstance(sep.info, dict) else model
    return SimpleNamespace(A=sep.A, S=sep.S, info={"method": f"{names[0]} ({label})"})
