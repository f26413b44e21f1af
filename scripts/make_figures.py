"""Write the documentation figures under docs/figures/.

- ``xray_families.png``: 50 simulated spectra of each Cas A family (``semiblind.data.xray``), the analogue of
  the LPALM paper's Figure 1 (Fahes et al. 2022);
- ``paper_families_65ch.png``: the first 50 spectra of each family of the papers' 65-channel set, when
  ``../shared/data/xray`` (or ``$SEMIBLIND_SHARED_XRAY``) is present.

Usage: ``python scripts/make_figures.py [--out docs/figures] [--seed 0] [--n 50]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semiblind.data import casa, xray
from semiblind.plot import plot_spectra_family

NAMES = ("synchrotron", "thermal", "iron 1 (receding)", "iron 2 (approaching)")


def _publish(path: Path) -> None:
    path.chmod(0o644)  # atomic writes create private files; documentation figures are world-readable
    print(f"wrote {path} ({path.stat().st_size // 1024} kB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "figures"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    grid = xray.EnergyGrid.default()
    A = xray.sample_mixing_matrices(args.n, grid, args.seed)
    plot_spectra_family(A, grid, family_names=NAMES, max_curves=None, dpi=90,
                        title=f"Simulated Cas A spectra, grid {grid.name} (seed {args.seed})",
                        path=out / "xray_families.png")
    _publish(out / "xray_families.png")

    try:
        As = casa.paper_mixing_matrices()
    except FileNotFoundError as exc:
        print(f"skipped paper_families_65ch.png: {exc}", file=sys.stderr)
        return 0
    plot_spectra_family(As[: args.n], None, family_names=NAMES, max_curves=None, dpi=90,
                        title="The papers' 65-channel spectra (first 50 matrices; no energy axis is known)",
                        path=out / "paper_families_65ch.png")
    _publish(out / "paper_families_65ch.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
