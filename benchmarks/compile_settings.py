"""``torch.compile`` and float32 matmul settings on the LPALM rows of ``benchmarks/run.py`` (issue 14 §1).

Rows: ``batch`` — the shipped ``lpalm-xray65`` (25 layers) on a batch of 512 mixtures of 65 × 500 (float32, no
gradients: the "stacked" inference path); ``cube`` — the same network on one 65 × side² cube (default side 256,
17 MB: the "blocked" CPU path; ``benchmarks/run.py`` uses 1024², 273 MB, too slow to repeat for every setting on a
shared 2-core machine — pass ``--cube-side 1024`` for it).

Settings, each against eager at the default precision ("highest") in the same process:

- ``eager``; ``matmul-high`` / ``matmul-medium``: eager under ``torch.set_float32_matmul_precision("high")`` /
  ``("medium")`` (TF32 / bf16 allowed for float32 products where the backend has them);
- ``mkldnn-off``: eager under ``torch.backends.mkldnn.flags(enabled=False)``;
- ``compile`` / ``compile-max-autotune-no-cudagraphs``: ``torch.compile(model, mode=...)`` with Inductor's caches
  disabled (``force_disable_caches``), so the first call pays the whole compilation.

For each: the first call (start-up: compilation for the compiled ones), the best of ``--repeats`` later calls, the
ratio to eager's best, and the largest difference of A and S from eager's output relative to the array's largest
magnitude. Run with ``--threads 1,2`` (``torch.set_num_threads``).

Usage: ``python benchmarks/compile_settings.py [--threads 1,2] [--repeats 3] [--rows batch,cube] [--cube-side 256]
[--settings ...] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import torch

SETTINGS = ("eager", "matmul-high", "matmul-medium", "mkldnn-off", "compile", "compile-max-autotune-no-cudagraphs")


def _data(row: str, batch: int, side: int) -> torch.Tensor:
    if row == "batch":
        return torch.rand(batch, 65, 500, generator=torch.Generator().manual_seed(1))
    return torch.rand(1, 65, side * side, generator=torch.Generator().manual_seed(0))


def _model():
    from semiblind.training.model_files import load_model

    return load_model("lpalm-xray65").eval()


def _context(setting: str):
    if "matmul" in setting:
        @contextlib.contextmanager
        def precision():
            old = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision(setting.split("-", 1)[1])
            try:
                yield
            finally:
                torch.set_float32_matmul_precision(old)
        return precision()
    if setting == "mkldnn-off":
        return torch.backends.mkldnn.flags(enabled=False)
    return contextlib.nullcontext()


def _runner(setting: str):
    model = _model()
    if not setting.startswith("compile"):
        return model
    import torch._dynamo
    import torch._inductor.config

    torch._dynamo.reset()
    torch._inductor.config.force_disable_caches = True
    mode = setting.split("-", 1)[1] if "-" in setting else None
    return torch.compile(model, mode=mode)


@torch.no_grad()
def measure(row: str, setting: str, X: torch.Tensor, repeats: int, ref=None) -> dict:
    out: dict = {"row": row, "setting": setting, "threads": torch.get_num_threads()}
    try:
        with _context(setting):
            fn = _runner(setting)
            t0 = time.perf_counter()
            A, S = fn(X)
            out["first_s"] = time.perf_counter() - t0
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(X)
                best = min(best, time.perf_counter() - t0)
            out["best_s"] = best
    except Exception as exc:  # a setting this torch/machine cannot run: reported, not fatal
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        return out
    if ref is not None:
        A0, S0 = ref
        out["dA"] = float((A - A0).abs().max() / A0.abs().max())
        out["dS"] = float((S - S0).abs().max() / S0.abs().max())
    out["_AS"] = (A, S)
    return out


def _fmt(r: dict, eager_best: float | None) -> str:
    if "error" in r:
        return f"| {r['row']} | {r['threads']} | {r['setting']} | — | — | — | {r['error']} |"
    ratio = f"{r['best_s'] / eager_best:.2f}×" if eager_best else "—"
    diff = f"{r.get('dA', 0.0):.1e} / {r.get('dS', 0.0):.1e}" if "dA" in r else "(reference)"
    return (f"| {r['row']} | {r['threads']} | {r['setting']} | {r['first_s'] * 1e3:,.0f} ms | "
            f"{r['best_s'] * 1e3:,.0f} ms | {ratio} | {diff} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts [1,2]")
    p.add_argument("--repeats", type=int, default=3, help="timed calls after the first [3]")
    p.add_argument("--rows", default="batch,cube", help="batch, cube or both [batch,cube]")
    p.add_argument("--batch", type=int, default=512, help="mixtures in the batch row [512]")
    p.add_argument("--cube-side", type=int, default=256, help="cube side in pixels [256]")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated subset of: {', '.join(SETTINGS)}")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        p.error(f"--settings: unknown {unknown}; choose from {list(SETTINGS)}")
    if "eager" not in settings:
        settings.insert(0, "eager")
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"load average {os.getloadavg()[0]:.2f} at start", flush=True)
    print("| row | threads | setting | first call | best of later calls | vs eager | max dA / dS (rel.) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for row in [r.strip() for r in args.rows.split(",") if r.strip()]:
        X = _data(row, args.batch, args.cube_side)
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            eager = measure(row, "eager", X, args.repeats)
            print(_fmt(eager, None), flush=True)
            rows.append(eager)
            for setting in settings:
                if setting == "eager":
                    continue
                r = measure(row, setting, X, args.repeats, ref=eager.get("_AS"))
                print(_fmt(r, eager.get("best_s")), flush=True)
                rows.append(r)
    print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([{k: v for k, v in r.items() if k != "_AS"} for r in rows], fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
