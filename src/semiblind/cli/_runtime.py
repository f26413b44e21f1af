"""What every command-line verb shares at run time: the thread count (``--threads``) and clean warnings.

**Threads.** ``--threads N`` sets torch's intra-op and inter-op threads and the BLAS/OpenMP pools (threadpoolctl,
and ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` for child processes). Without it the count
follows :func:`auto_threads`: one thread for problems below :data:`THREADS_MIN_SIZE` channels × pixels or of
unknown size (``train``, ``reproduce``, ``selfsup``), the machine's CPU count above it. Measured with
``benchmarks/threads_scaling.py`` on the 2-core development machine (PALM and GMCA on 65 × t, t = 10³ … 10⁶, one
run each, interleaved): two threads were slower than one at every size, 1.8× to 11.9× under load 5–8 and 1.3× to
2.9× at load 0.4–1.7, so no size below the largest measured gets more than one thread. The default never depends
on the machine's load: a thread count changes the order of floating-point sums, so a load-dependent default would
make the same command with the same seed give slightly different numbers from one run to the next.

**Warnings.** :func:`session` replaces :func:`warnings.showwarning` while a verb runs, so that every warning is
one line ``semiblind VERB: warning: MESSAGE`` on stderr (no file path, no source line).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

THREADS_MIN_SIZE = 65 * 10**6  # channels × pixels below which one thread is the default
_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_state: dict[str, Any] = {"interop_set": False}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def add_threads(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` to ``parser`` and, recursively, to every sub-command parser below it."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        for action in subs:
            for child in dict.fromkeys(action.choices.values()):
                add_threads(child)
        return
    if any("--threads" in a.option_strings for a in parser._actions):
        return
    parser.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                        help="CPU threads of torch and BLAS (default: 1 for problems below 65×10⁶ "
                        "channels·pixels or of unknown size, else every core)")


def auto_threads(size: int | None = None) -> int:
    """The default thread count for a problem of ``size`` = channels × pixels (``None``: unknown): one below
    :data:`THREADS_MIN_SIZE` or when unknown, else the CPU count (never the load: see the module docstring)."""
    if size is None or size < THREADS_MIN_SIZE:
        return 1
    return os.cpu_count() or 1


def set_threads(n: int) -> int:
    """Use ``n`` threads in torch (intra-op; inter-op when still possible) and the BLAS pools; returns ``n``."""
    import torch

    torch.set_num_threads(int(n))
    if not _state["interop_set"]:
        with contextlib.suppress(RuntimeError):  # only allowed before torch's first parallel work
            torch.set_num_interop_threads(int(n))
        _state["interop_set"] = True
    for key in _ENV:
        os.environ[key] = str(int(n))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: numpy's BLAS then keeps its own count
        pass
    else:
        limiter = threadpool_limits(limits=int(n))
        _state.setdefault("blas_limiter", limiter)  # the first one of a session restores the caller's limits
    _state["threads"] = int(n)
    return int(n)


def choose_threads(args: argparse.Namespace, size: int | None = None) -> int:
    """Apply ``--threads`` when given, else :func:`auto_threads` for ``size``; returns the count in use."""
    requested = getattr(args, "threads", None)
    return set_threads(requested if requested is not None else auto_threads(size))


def threads_in_use() -> int:
    """The thread count last set by :func:`set_threads` (torch's own when none was)."""
    if "threads" in _state:
        return int(_state["threads"])
    import torch

    return int(torch.get_num_threads())


def one_line(message: Any) -> str:
    return " ".join(p.strip() for p in str(message).splitlines() if p.strip())


def warning_line(verb: str, message: Any) -> str:
    return f"semiblind {verb}: warning: {one_line(message)}"


@contextlib.contextmanager
def session(verb: str, args: argparse.Namespace) -> Iterator[None]:
    """While a verb runs: clean one-line warnings and the thread count of :func:`choose_threads` (size unknown:
    verbs that know their problem size call :func:`choose_threads` again)."""
    import torch

    before_threads = torch.get_num_threads()
    before_show = warnings.showwarning
    before_env = {key: os.environ.get(key) for key in _ENV}
    shown: set[str] = set()

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        text = warning_line(verb, message)
        if text not in shown:
            shown.add(text)
            print(text, file=sys.stderr)

    warnings.showwarning = show
    try:
        if hasattr(args, "threads"):
            choose_threads(args)
        yield
    finally:
        warnings.showwarning = before_show
        torch.set_num_threads(before_threads)
        _state.pop("threads", None)
        limiter = _state.pop("blas_limiter", None)
        if limiter is not None:
            limiter.restore_original_limits()
        for key, value in before_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def spectral_axis_arg(text: str | None) -> int | str | None:
    """``--spectral-axis`` as given: a NumPy axis number or a CTYPE name (``None`` when not given)."""
    if text is None:
        return None
    stripped = str(text).strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped


def add_spectral_axis(parser: argparse.ArgumentParser, *, what: str = "INPUT") -> None:
    parser.add_argument("--spectral-axis", default=None, metavar="AXIS", dest="spectral_axis",
                        help=f"FITS {what}: NumPy axis (0, 1, 2) or CTYPE (e.g. ENER) of the spectral axis, when "
                        "the header does not say")


def load_data(path: Any, *, spectral_axis: Any = None, index: int | None = None, argument: str = "INPUT",
              memmap: bool = False) -> Any:
    """Read a data cube with :func:`semiblind.io.load_input` (``memmap``: a FITS file's X memory-mapped, not
    copied); a separation result given instead is named as such (rather than reported as a cube without X or
    without a spectral axis)."""
    from .. import io

    axis = spectral_axis_arg(spectral_axis)
    try:
        if index is None:
            return io.load_input(path, spectral_axis=axis, argument=argument, memmap=memmap)
        return io.load_input(path, spectral_axis=axis, index=index, argument=argument, memmap=memmap)
    except ValueError as data_error:
        try:
            res = io.load_result(path)
        except Exception:  # not a result either: the data reader's message stands
            raise data_error from None
        made_by = res.info.get("method") if isinstance(getattr(res, "info", None), dict) else None
        by = f" (method {made_by!r})" if made_by else ""
        raise ValueError(f"{argument} {str(path)!r} is a separation result{by}, not a data cube: it holds A and S "
                         "written by `semiblind separate`; give the data file that was separated (`semiblind info "
                         f"{path}` describes the result).") from None
