"""The ``semiblind`` command line: argument parsing and error reporting only.

Each verb lives in its own module ``semiblind.cli._<verb>`` exposing ``add_parser(subparsers)`` (which sets
``func`` on its parser) and calls the api or an experiment. Library errors (``ValueError``, ``TypeError``, missing or
existing files, memory and numeric limits, errors torch raises on the data) become one line on stderr and exit
code 2, never a traceback; any other exception is a bug in semiblind and says "internal error, please report"
with exit code 1 (``SEMIBLIND_DEBUG=1`` shows its traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from .._version import __version__
from ._common import UsageError as UsageError  # re-exported; defined once, in _common

VERBS = ("demo", "simulate", "separate", "evaluate", "train", "reproduce", "selfsup", "info", "methods")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: exit 2, one line plus usage
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="semiblind",
        description="Learned semi-blind source separation of multi- and hyperspectral data.",
    )
    parser.add_argument("--version", action="version", version=f"semiblind {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb in VERBS:  # our own modules: imported, never skipped when missing
        importlib.import_module(f"semiblind.cli._{verb}").add_parser(sub)
    from ._runtime import add_threads

    add_threads(parser)  # --threads N on every verb (and every sub-verb)
    return parser


def _one_line(text: str) -> str:
    """An exception message as one line (multi-line messages from libraries are joined)."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return " ".join(parts) if parts else ""


def _from_torch(exc: BaseException) -> bool:
    """True when the innermost frame of ``exc``'s traceback is inside torch (an error torch raised)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return type(exc).__module__.startswith("torch")
    filename = last.tb_frame.f_code.co_filename.replace("\\", "/")
    return "/torch/" in filename or type(exc).__module__.startswith("torch")


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that reached the command line.

    Bad input and environment problems (``ValueError``, ``TypeError``, file errors, ``KeyError`` from a missing
    field, memory or numeric limits, errors raised by torch on the data: a failing eigen-solver, an unusable
    device) give exit code 2 and a sentence; anything else is a bug in semiblind: exit code 1 and "internal
    error, please report".
    """
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else ""
        msg = key if isinstance(key, str) and " " in key else f"missing field {key!r}"
        return 2, _one_line(msg)
    if isinstance(exc, (ValueError, TypeError, OSError)) and not _is_torch_linalg(exc):
        return 2, _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, MemoryError):
        detail = _one_line(str(exc))
        return 2, ("not enough memory for this input" + (f" ({detail})" if detail else "") +
                   "; use a smaller input or a subset of it.")
    if isinstance(exc, OverflowError):
        return 2, f"a number is too large to compute with ({_one_line(str(exc))}); check the sizes and " \
                  "parameters given."
    if _is_torch_linalg(exc):
        return 2, ("the linear algebra failed on this data (" + _one_line(str(exc)).split(" (error code")[0] +
                   "); the data are probably badly scaled or degenerate: rescale X (e.g. to unit RMS) or check "
                   "for duplicated channels.")
    if isinstance(exc, AssertionError) and _from_torch(exc):
        text = _one_line(str(exc))
        if "CUDA" in text:
            return 2, f"the device asked for cannot be used ({text}); use device='cpu' (--set device=cpu)."
        return 2, f"torch refused this input ({text})."
    if isinstance(exc, RuntimeError) and (_from_torch(exc) or type(exc) is RuntimeError):
        # torch's C++ errors arrive as plain RuntimeError without a Python frame of their own
        return 2, f"torch could not process this input ({_one_line(str(exc))[:300]})."
    return 1, (f"internal error, please report ({type(exc).__name__}: {_one_line(str(exc))[:300]}); set "
               "SEMIBLIND_DEBUG=1 to see the traceback.")


def _is_torch_linalg(exc: BaseException) -> bool:
    import torch

    err = getattr(getattr(torch, "_C", None), "_LinAlgError", None)
    return (err is not None and isinstance(exc, err)) or type(exc).__name__ == "LinAlgError" and \
        type(exc).__module__.startswith("torch")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and hasattr(signal, "SIGPIPE"):
        # As a console script, die quietly when the reader of our output goes away (`semiblind info X | head`).
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)  # relaunched by `train --workers`
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2 if argv is None and len(sys.argv) <= 1 else 0
    from ._runtime import session

    try:
        with session(args.verb, args):  # warnings as one clean line each; the thread count
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("semiblind: interrupted; no partial output was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # every exception becomes one line; only genuine bugs say "internal error"
        if os.environ.get("SEMIBLIND_DEBUG"):
            raise
        code, msg = explain(exc)
        print(f"semiblind {args.verb}: error: {msg}", file=sys.stderr)
        if "torch.distributed" in sys.modules:  # a data-parallel worker: leave its group, or gloo aborts at exit
            from ..training.distributed import leave_process_group

            leave_process_group()
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
