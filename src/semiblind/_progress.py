"""The package's one progress bar: a tqdm bar on a terminal, one line per stage with its time elsewhere.

Every progress bar of semiblind is a :class:`tqdm` from this module (``from .._progress import tqdm``), a
subclass of ``tqdm.auto.tqdm`` with the same arguments. When the bar's output (``file``, default stderr) is a
terminal it is the usual bar. When it is a pipe or a file (a log), carriage-return frames would pile up (tens of
kilobytes per run), so the bar draws nothing and, when it closes, writes one line
``DESC: N STEPS in S s`` (``N/TOTAL`` when it stopped early). ``disable=True`` still means silent.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm.auto import tqdm as _tqdm


def _is_terminal(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


class tqdm(_tqdm):  # a drop-in for tqdm.auto.tqdm, hence the lower-case name
    """tqdm on a terminal; one summary line per bar (stage) in a pipe or a file. See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        out = kwargs.get("file") or sys.stderr
        self._line_mode = not kwargs.get("disable", False) and not _is_terminal(out)
        self._line_file = out
        self._line_count = 0
        self._line_done = False
        self._line_t0 = time.perf_counter()
        if self._line_mode:
            kwargs["disable"] = True
        super().__init__(*args, **kwargs)
        self._line_desc = kwargs.get("desc") or (args[1] if len(args) > 1 and isinstance(args[1], str) else "")
        self._line_unit = kwargs.get("unit", "it")

    def __iter__(self) -> Any:
        if not self._line_mode:
            yield from super().__iter__()
            return
        for obj in self.iterable:
            self._line_count += 1
            yield obj
        self.close()

    def update(self, n: float | None = 1) -> bool | None:
        if self._line_mode:
            self._line_count += 1 if n is None else n
            return None
        return super().update(n)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        if self._line_mode:
            self._line_desc = desc or ""
            return
        super().set_description(desc, refresh)

    def close(self) -> None:
        if self._line_mode and not self._line_done:
            self._line_done = True
            total = getattr(self, "total", None)
            count = int(self._line_count) if float(self._line_count).is_integer() else self._line_count
            steps = f"{count}/{int(total)}" if total and count != total else f"{count}"
            desc = self._line_desc or "progress"
            try:
                print(f"{desc}: {steps} {self._line_unit} in {time.perf_counter() - self._line_t0:.1f} s",
                      file=self._line_file, flush=True)
            except (OSError, ValueError):  # the log went away: nothing to report to
                pass
        super().close()
