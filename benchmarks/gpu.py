"""The rows of ``benchmarks/run.py`` on a CUDA GPU: the same ratios to floors measured in the same run, on
``cuda`` (every timing synchronised). Prints one line and exits 0 when no GPU is available.

Usage: ``python benchmarks/gpu.py [--repeats 7] [--rows cube,batch,gmca] [--train] [--json FILE]`` (the flags of
``benchmarks/run.py``; ``--device`` defaults to ``cuda``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def main() -> None:
    if not torch.cuda.is_available():
        print(f"no CUDA device (torch {torch.__version__}); nothing measured.")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run  # benchmarks/run.py

    print(f"GPU: {torch.cuda.get_device_name(0)}")
    run.main(sys.argv[1:], device_default="cuda")


if __name__ == "__main__":
    main()
