"""Peak memory of ``semiblind separate --chunk-pixels`` on FITS cubes, against the input size.

Writes float32 FITS cubes 65 × N × N (default N = 512, 1024, 2048; 68 MB, 273 MB, 1.09 GB) in a temporary folder
(deleted at the end), with an ENER axis on the shipped LPALM model's 65-channel grid, then runs, for each method
and size, in a fresh process::

    /usr/bin/time -v python -m semiblind separate CUBE.fits --method M --n-sources 4 --chunk-pixels C ...

(a few iterations: the peak is reached in the first pass over the data), and, for the sizes of ``--memory-sizes``,
without ``--chunk-pixels`` for comparison (GMCA in the direct domain and LPALM's pixel model there too). It parses
"Maximum resident set size" and prints, per run, the peak RSS, the input bytes and their ratio, then per method a
least-squares line ``RSS = a + b·input`` over the chunked runs, extrapolated to the 65 × 4096² float32 cube
(4.36 GB). RSS counts the pages of the memory-mapped file the process has touched: a pass over X maps all of it,
so about one input size of the peak is the file itself (page cache, shared, dropped by the kernel under pressure),
not a copy.

    python benchmarks/chunked_memory.py                       # the table of docs/results_speed.md
    python benchmarks/chunked_memory.py --sizes 512 --methods palm   # a quick look
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

M, N_SOURCES = 65, 4
TARGET_PIXELS = 4096 * 4096
ITERATIONS = {"palm": ["--set", "max_iter=3"], "gmca": ["--set", "max_iter=3"], "lpalm": []}
# the in-memory runs compute what the chunked path does: direct-domain GMCA, LPALM's pixel model (its image model
# on a cube needs about 30 × the input, measured 2.1 GB at 65 × 512²)
IN_MEMORY = {"gmca": ["--set", "sparse_transform=none"], "lpalm": ["--model", "lpalm-xray65"]}


def write_cube(path: Path, side: int, rng: np.random.Generator) -> int:
    """A 65 × side × side float32 FITS cube X = A·S + noise, written channel by channel (never held whole);
    returns the bytes of X."""
    from astropy.io import fits

    t = side * side
    A = np.abs(rng.standard_normal((M, N_SOURCES))).astype(np.float32)
    A /= np.linalg.norm(A, axis=0)
    S = (np.abs(rng.standard_normal((N_SOURCES, t))) * (rng.random((N_SOURCES, t)) < 0.3)).astype(np.float32)
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 3
    header["NAXIS1"] = side
    header["NAXIS2"] = side
    header["NAXIS3"] = M
    width = 7.0 / M  # the chandra-acis-65 grid of the shipped LPALM model: 0.5–7.5 keV in 65 channels
    header["CTYPE3"], header["CUNIT3"] = "ENER", "keV"
    header["CRPIX3"], header["CRVAL3"], header["CDELT3"] = 1.0, 0.5 + width / 2, width
    stream = fits.StreamingHDU(str(path), header)
    for c in range(M):
        row = A[c] @ S + np.float32(1e-3) * rng.standard_normal(t, dtype=np.float32)
        stream.write(row.reshape(side, side))
    stream.close()
    return M * t * 4


def peak_rss(command: list[str]) -> tuple[int, float, str]:
    """Run ``command`` under ``/usr/bin/time -v``; returns (peak RSS in bytes, wall seconds, its last line)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        said = proc.stderr.split("\tCommand being timed")[0].strip()[-2000:]
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {said}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no 'Maximum resident set size' in the output of /usr/bin/time: {proc.stderr[-500:]}")
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    return int(found.group(1)) * 1024, wall, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048], help="image sides N")
    ap.add_argument("--methods", nargs="+", default=["palm", "gmca", "lpalm"])
    ap.add_argument("--chunk-pixels", type=int, default=1 << 18, help="pixels per chunk (default 262144)")
    ap.add_argument("--memory-sizes", type=int, nargs="*", default=[512, 1024],
                    help="sides N also run without --chunk-pixels (default 512 1024; none: no such run)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tmp", default=None, help="folder for the temporary cubes (default: the system's)")
    args = ap.parse_args()
    if not Path("/usr/bin/time").exists():
        sys.exit("benchmarks/chunked_memory.py needs /usr/bin/time (GNU time) for the peak RSS.")
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="semiblind-chunks-", dir=args.tmp))
    rows: list[tuple[str, int, bool, int, int, float]] = []
    print(f"cpu_count {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, chunk_pixels {args.chunk_pixels}, "
          f"threads {args.threads}", flush=True)
    try:
        for side in args.sizes:
            cube = folder / f"cube{side}.fits"
            nbytes = write_cube(cube, side, rng)
            for method in args.methods:
                for chunked in (True, False):
                    if not chunked and side not in args.memory_sizes:
                        continue
                    out = folder / f"{method}{side}{'c' if chunked else 'm'}.fits"
                    cmd = [sys.executable, "-m", "semiblind", "separate", str(cube), "--threads", str(args.threads),
                           "--method", method, "--n-sources", str(N_SOURCES), "--out", str(out), "--overwrite",
                           *ITERATIONS[method]]
                    cmd += ["--chunk-pixels", str(args.chunk_pixels)] if chunked else IN_MEMORY.get(method, [])
                    rss, wall, _ = peak_rss(cmd)
                    rows.append((method, side, chunked, nbytes, rss, wall))
                    print(f"{method:6s} 65×{side}² {'chunked  ' if chunked else 'in memory'} input "
                          f"{nbytes / 1e9:6.3f} GB  peak RSS {rss / 1e9:6.3f} GB  ratio {rss / nbytes:5.2f}  "
                          f"{wall:6.1f} s", flush=True)
                    out.unlink(missing_ok=True)
            cube.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print("\n| method | cube | path | input (GB) | peak RSS (GB) | RSS / input | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for method, side, chunked, nbytes, rss, wall in rows:
        print(f"| {method} | 65 × {side}² | {'--chunk-pixels' if chunked else 'in memory'} | {nbytes / 1e9:.3f} | "
              f"{rss / 1e9:.3f} | {rss / nbytes:.2f} | {wall:.1f} |")
    target = M * TARGET_PIXELS * 4
    print(f"\nLinear fit RSS = a + b·input over the chunked runs, extrapolated to 65 × 4096² ({target / 1e9:.2f} GB):")
    for method in args.methods:
        pts = [(nb, rss) for mth, _, ch, nb, rss, _ in rows if mth == method and ch]
        if len(pts) < 2:
            continue
        x, y = np.array(pts, dtype=float).T
        b, a = np.polyfit(x, y, 1)
        pred = a + b * target
        print(f"  {method}: a = {a / 1e9:.3f} GB, b = {b:.3f}; predicted peak {pred / 1e9:.2f} GB = "
              f"{pred / target:.2f} × input")


if __name__ == "__main__":
    main()
