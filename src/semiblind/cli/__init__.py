"""The ``semiblind`` command line: argument parsing and error reporting only.

Each verb lives in its own module ``semiblind.cli._<verb>`` exposing ``add_parser(subparsers)`` (which sets
``func`` on its parser) and calls the api or an experiment. Library errors (``ValueError``, ``TypeError``, missing or
existing files) become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
from collections.abc import Sequence

from .._version import __version__

VERBS = ("demo", "simulate", "separate", "evaluate", "train", "reproduce", "info")


class UsageError(ValueError):
    """A command-line usage problem detected after parsing (reported like any other bad input)."""


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
    for verb in VERBS:
        mod_name = f"semiblind.cli._{verb}"
        if importlib.util.find_spec(mod_name) is None:
            continue
        importlib.import_module(mod_name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and hasattr(signal, "SIGPIPE"):
        # As a console script, die quietly when the reader of our output goes away (`semiblind info X | head`).
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2 if argv is None and len(sys.argv) <= 1 else 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("semiblind: interrupted; no partial output was written.", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError,
            KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"semiblind {args.verb}: error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"semiblind {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
