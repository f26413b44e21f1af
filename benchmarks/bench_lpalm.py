"""LPALM performance (LPALM paper, Fahes et al., ICLR 2022): forward time against a memory roofline, batched
throughput, speed-up over PALM run to convergence, and training time to the paper's test NMSE.

All four measures are taken in one process, on the threads given by ``--threads`` (default 2):

1. Forward time of a 25-layer LPALM on one 65 × 346² cube (t = 119,716 pixels, n = 4, float32) against a
   memory roofline measured in the same process: the time to stream X through memory 2K times (K = layers;
   ``X.sum()`` repeated 2K times), since a layer in Gram form reads X twice (``WᵀX`` and ``XSᵀ``). Aim: ≤ 2×.
   Minimum over ``--repeats`` runs, interleaved.
2. Mixtures per second for a batch of ``--batch`` mixtures of 65 × 500 (aim ≥ 1,000/s on 2 cores).
3. Wall-clock per mixture of LPALM (one forward) and of PALM run to convergence (tol 1e-7 on ‖ΔA‖_F and
   ‖ΔS‖_F, float64, at most 5,000 iterations, λ chosen on training samples) on the same paper test mixtures,
   one at a time; ratio of medians (aim ≥ 100×). Needs ``../shared/data/xray`` (skipped otherwise).
4. Training time until the median test NMSE(S) reaches the paper's 0.00085 (Table 1), or the best reached
   within ``--train-seconds`` (Adam, lr ``--lr``, batch ``--train-batch``, evaluated after every epoch).

Usage: ``python benchmarks/bench_lpalm.py [--threads 2] [--repeats 5] [--train-seconds 300]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from semiblind import metrics
from semiblind.unrolled import LPALM

PAPER_LPALM_NMSE = 0.00085


def _model(m: int = 65, n: int = 4, layers: int = 25, seed: int = 0) -> LPALM:
    rng = np.random.default_rng(seed)
    A = np.abs(rng.standard_normal((m, n)))
    A /= np.linalg.norm(A, axis=0)
    S = rng.standard_normal((n, 500)) * (rng.random((n, 500)) < 0.1)
    return LPALM(n_channels=m, n_sources=n, layers=layers, init_pair=(A, S)).eval()


def _best(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@torch.no_grad()
def bench_roofline(repeats: int, layers: int) -> dict[str, float]:
    model = _model(layers=layers)
    X = torch.rand(1, 65, 346 * 346)
    model(X)  # warm-up
    t_fwd, t_roof = np.inf, np.inf
    for _ in range(repeats):  # interleaved so that both see the same machine load
        t_fwd = min(t_fwd, _best(lambda: model(X), 1))
        t_roof = min(t_roof, _best(lambda: [X.sum() for _ in range(2 * layers)], 1))
    gb = X.numel() * 4 * 2 * layers / 1e9
    return {"forward_s": t_fwd, "roofline_s": t_roof, "ratio": t_fwd / t_roof, "stream_GB": gb,
            "bandwidth_GBps": gb / t_roof}


@torch.no_grad()
def bench_throughput(repeats: int, batch: int, layers: int) -> dict[str, float]:
    model = _model(layers=layers)
    X = torch.rand(batch, 65, 500)
    model(X)
    t = _best(lambda: model(X), repeats)
    return {"batch": batch, "seconds": t, "mixtures_per_s": batch / t}


def bench_vs_palm(n_mixtures: int, layers: int, train_seconds: float, lr: float, train_batch: int,
                  seed: int) -> dict[str, float] | None:
    from semiblind.data import casa
    from semiblind.data.mixtures import simulate_paper_xray
    from semiblind.solvers.palm import palm, select_lambda
    from semiblind.training import build_model, train

    try:
        casa.find_shared_xray()
    except FileNotFoundError as exc:
        print(f"[skipped: {exc}]")
        return None
    tr = simulate_paper_xray(None, 65, pixels=500, sources="ggd", beta=0.3, snr_db=30, rng=seed,
                             subset="train", progress=False)
    te = simulate_paper_xray(None, 65, pixels=500, sources="ggd", beta=0.3, snr_db=30, rng=seed + 1,
                             subset="test", progress=False)
    rng = np.random.default_rng(seed)
    A0 = tr.A[int(rng.integers(tr.n_samples))]
    sel = rng.choice(tr.n_samples, size=8, replace=False)
    lam = select_lambda(tr.X[sel], tr.S[sel], 4, None, A_train=tr.A[sel], A0=A0, init="given",
                        max_iter=2000, tol=1e-7, dtype="float64").best_lambda

    # 4. training time to the paper's test NMSE (evaluated after every epoch; exact resume between epochs).
    model = build_model("lpalm", tr, layers=layers)
    Xte = torch.as_tensor(te.X)
    t_train, reached, best, curve = 0.0, None, np.inf, []
    with tempfile.TemporaryDirectory() as d:
        epoch = 0
        while t_train < train_seconds:
            epoch += 1
            res = train(model, tr, None, epochs=epoch, lr=lr, batch_size=train_batch, seed=seed,
                        out_dir=Path(d) / "run", resume=epoch > 1, progress=False)
            t_train += res.seconds
            model = res.model
            with torch.no_grad():
                A_l, S_l = model(Xte)
            _, S_al = metrics.align(A_l.double().numpy(), S_l.double().numpy(), te.A, te.S)
            med = float(np.median(metrics.nmse(S_al, te.S, batched=True)))
            best = min(best, med)
            curve.append((epoch, t_train, med))
            if med <= PAPER_LPALM_NMSE and reached is None:
                reached = t_train
                break

    # 3. wall-clock per mixture, one at a time, on the same test mixtures.
    t_palm, t_lpalm, iters = [], [], []
    for i in range(n_mixtures):
        t0 = time.perf_counter()
        r = palm(te.X[i:i + 1], 4, lam, A0=A0, init="given", max_iter=5000, tol=1e-7, dtype="float64",
                 record_history=False)
        t_palm.append(time.perf_counter() - t0)
        iters.append(int(r.n_iter[0]))
        with torch.no_grad():
            Xi = Xte[i:i + 1]
            t_lpalm.append(_best(lambda: model(Xi), 3))  # noqa: B023 (called at once, inside the loop)
    return {"lambda": lam, "palm_s": float(np.median(t_palm)), "palm_iterations": float(np.median(iters)),
            "lpalm_s": float(np.median(t_lpalm)), "speedup": float(np.median(t_palm) / np.median(t_lpalm)),
            "train_seconds_to_paper": reached, "train_best_median_nmse": best, "train_epochs": epoch,
            "train_seconds": t_train, "curve": curve}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layers", type=int, default=25)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--mixtures", type=int, default=5, help="test mixtures timed for the PALM comparison")
    p.add_argument("--train-seconds", type=float, default=300.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {a.layers} layers")
    r = bench_roofline(a.repeats, a.layers)
    print(f"1. LPALM forward, 65 × 346² cube: {r['forward_s'] * 1e3:.1f} ms; roofline (X streamed "
          f"{2 * a.layers}×, {r['stream_GB']:.2f} GB at {r['bandwidth_GBps']:.1f} GB/s): "
          f"{r['roofline_s'] * 1e3:.1f} ms; ratio {r['ratio']:.2f}× (aim ≤ 2×)")
    t = bench_throughput(a.repeats, a.batch, a.layers)
    print(f"2. batched 65 × 500 mixtures: {t['mixtures_per_s']:.0f} mixtures/s (batch {a.batch}, "
          f"{t['seconds'] * 1e3:.1f} ms; aim ≥ 1,000/s)")
    v = bench_vs_palm(a.mixtures, a.layers, a.train_seconds, a.lr, a.train_batch, a.seed)
    if v is not None:
        print(f"3. per mixture (median of {a.mixtures}): PALM to convergence {v['palm_s']:.3f} s "
              f"({v['palm_iterations']:.0f} iterations, λ = {v['lambda']:.3g}, float64), LPALM "
              f"{v['lpalm_s'] * 1e3:.2f} ms; LPALM is {v['speedup']:.0f}× faster (aim ≥ 100×)")
        if v["train_seconds_to_paper"] is not None:
            print(f"4. training reached the paper's median test NMSE {PAPER_LPALM_NMSE} after "
                  f"{v['train_seconds_to_paper']:.0f} s ({v['train_epochs']} epochs)")
        else:
            print(f"4. training did not reach {PAPER_LPALM_NMSE} within {a.train_seconds:.0f} s; best median "
                  f"test NMSE {v['train_best_median_nmse']:.4g} after {v['train_epochs']} epochs "
                  f"({v['train_seconds']:.0f} s)")
        print("   curve (epoch, training seconds, median test NMSE): "
              + ", ".join(f"({e}, {s:.0f}, {m:.3g})" for e, s, m in v["curve"]))


if __name__ == "__main__":
    main()
