"""Bad input on the command line (issue #6): exit code 2, one line on stderr naming the argument and what was
expected, no traceback, nothing half-written. The table lives in ``tests/_bad_input_cases.py``; the commands
run in-process through :func:`semiblind.cli.main`, and two run through the real ``semiblind`` console script.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _bad_input_cases import Kind, data_only, dataset, good_X, listing, one_constant_channel, params
from semiblind.cli import VERBS, main


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code)


@pytest.mark.parametrize("kind", params("cli"))
def test_bad_command_exits_2_with_one_line(kind: Kind, tmp_path, capsys):
    argv = kind.cli(tmp_path)
    before = listing(tmp_path)
    capsys.readouterr()
    rc = _run(argv)
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.rstrip("\n").split("\n")
    verb = f"semiblind {argv[0]}" if argv[0] in VERBS else "semiblind"  # an unknown verb: the main parser
    if kind.usage:  # argparse: usage lines, then the error line
        assert lines[0].startswith("usage: semiblind")
    else:
        assert len(lines) == 1, err
        assert out == "", f"printed before failing: {out!r}"
    last = lines[-1]
    assert last.startswith(f"{verb}: error: "), last
    assert re.search(kind.cli_match, last), last
    # nothing half-written: the folder holds exactly what it held before, byte for byte (no output, no
    # temporary .part file, an existing output untouched)
    assert listing(tmp_path) == before


def test_one_constant_channel_separates(tmp_path, capsys):
    """A dead (constant) detector channel is legitimate: exit 0 and a result file."""
    inp = data_only(tmp_path, one_constant_channel(), name="dead.npz")
    out = tmp_path / "out.npz"
    rc = _run(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    with np.load(out, allow_pickle=False) as z:
        assert z["A"].shape == (8, 2) and np.isfinite(z["S"]).all()


def test_existing_output_is_replaced_with_overwrite(tmp_path, capsys):
    """The same command that fails without --overwrite succeeds with it (the refusal is not spurious)."""
    inp = dataset(tmp_path)
    out = tmp_path / "out.npz"
    out.write_bytes(b"earlier")
    argv = ["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5", "--out",
            str(out)]
    assert _run(argv) == 2
    assert _run([*argv, "--overwrite"]) == 0
    with np.load(out, allow_pickle=False) as z:
        assert z["A"].shape == (8, 2)
    assert [q.name for q in tmp_path.iterdir() if ".part" in q.name] == []


def _console_script() -> list[str]:
    exe = shutil.which("semiblind", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get(
        "PATH", ""))
    return [exe] if exe else [sys.executable, "-m", "semiblind"]


def test_real_console_script_exit_code_and_no_traceback(tmp_path):
    """End to end through the installed ``semiblind`` script: a data error deep in the library (found after
    reading the file and parsing every argument) exits 2 with one line, no traceback and no file."""
    argv = ["separate", str(data_only(tmp_path, good_X()[:, :0])), "--method", "palm", "--n-sources", "2",
            "--out", str(tmp_path / "out.npz")]
    before = listing(tmp_path)
    proc = subprocess.run([*_console_script(), *argv], capture_output=True, text=True, cwd=tmp_path,
                          timeout=180)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert re.fullmatch(r"semiblind separate: error: X must not be empty; got an array of shape \(8, 0\)\.\n",
                        proc.stderr), proc.stderr
    assert proc.stdout == ""
    assert listing(tmp_path) == before
