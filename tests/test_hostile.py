"""Hostile input (issue #16): no traceback, no silent NaN, no allocation the data do not justify, no lost result.

Each class of the issue has a test here or a kind in ``tests/_bad_input_cases.py`` (run by
``tests/cli/test_bad_input.py`` and ``tests/api/test_bad_input_api.py``). Command-line cases run the real entry
point :func:`semiblind.cli.main` (the console script's ``main``) in-process, and a few run ``python -m semiblind``
in a subprocess (signals, the real exit path). Every command-line case asserts the exit code, exactly one line
on stderr, no ``Traceback``, and the folder left exactly as it was (no partial or temporary file).

Big-allocation cases must be refused before allocating: they run under a small memory budget
(``SEMIBLIND_MEMORY_BUDGET``/:func:`semiblind._budget.memory_budget_limit`) and take milliseconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from _bad_input_cases import dataset, good_arrays, listing, multi_dataset, write_npz
from semiblind import _budget
from semiblind._backend import resolve_device
from semiblind._files import atomic_path, check_output_path
from semiblind.cli import explain, main

# ------------------------------------------------------------------------------------------------ helpers


def _cli(argv: list[str], capsys, folder: Path | None = None, *, code: int = 2) -> str:
    """Run ``semiblind ARGV`` in-process; assert exit ``code``, one stderr line, no traceback, nothing left
    behind in ``folder``; return the error line."""
    before = listing(folder) if folder is not None else None
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = int(exc.code)
    out, err = capsys.readouterr()
    assert rc == code, err
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith(f"semiblind {argv[0]}: error: "), lines[0]
    if folder is not None:
        assert listing(folder) == before
    return lines[0]


def _events_file(path: Path, x, y, energy_ev) -> Path:
    from astropy.io import fits

    cols = [fits.Column(name="x", format="E", array=np.asarray(x, np.float32)),
            fits.Column(name="y", format="E", array=np.asarray(y, np.float32)),
            fits.Column(name="energy", format="E", array=np.asarray(energy_ev, np.float32))]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="EVENTS")]).writeto(path)
    return path


def _stray_event(folder: Path) -> Path:
    """100 events in a 10 × 10 field and one stray event at x = y = 10⁶."""
    rng = np.random.default_rng(0)
    x = np.append(rng.uniform(0, 10, 100), 1e6)
    y = np.append(rng.uniform(0, 10, 100), 1e6)
    return _events_file(folder / "stray.evt", x, y, np.append(rng.uniform(600, 6000, 100), 1000.0))


@pytest.fixture
def small_budget():
    """A 64 MiB budget: every refused allocation below is far larger, every accepted one far smaller."""
    with _budget.memory_budget_limit("64MiB") as b:
        yield b


# ------------------------------------------------------------------------------------------------ the budget


def test_budget_sources_and_message(monkeypatch):
    monkeypatch.delenv(_budget.ENV_VAR, raising=False)
    default = _budget.memory_budget()
    assert 0 < default <= _budget.available_memory()
    monkeypatch.setenv(_budget.ENV_VAR, "512MiB")
    assert _budget.memory_budget() == 512 * 2**20
    monkeypatch.setenv(_budget.ENV_VAR, "0.25")
    assert abs(_budget.memory_budget() - 0.25 * _budget.available_memory()) < 0.01 * _budget.available_memory()
    with _budget.memory_budget_limit(10**6):
        assert _budget.memory_budget() == 10**6
    monkeypatch.setenv(_budget.ENV_VAR, "lots")
    with pytest.raises(ValueError, match=r"^SEMIBLIND_MEMORY_BUDGET must be a number of bytes"):
        _budget.memory_budget()
    need = _budget.nbytes_of((65, 4096, 4096, 64), np.float64)
    assert _budget.format_bytes(need) == "520 GiB"
    with pytest.raises(ValueError) as info:
        _budget.check_allocation(need, "X in 'x.npz'", budget="24GiB")
    msg = str(info.value)
    assert msg.startswith("X in 'x.npz' would need 520 GiB; this machine has ") and "budget is 24 GiB" in msg
    assert "\n" not in msg and msg.endswith(".")
    _budget.check_allocation(10**6, "a small array", budget="24GiB")  # under budget: silent


# ------------------------------------------------------------------------------------------------ class 12: events


def test_stray_event_refused_before_allocating(tmp_path, small_budget, capsys):
    import semiblind.io

    path = _stray_event(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"^the event cube of '.*stray\.evt' \(64 channels × 1000001 × 1000001 "
                                         r"pixels.* would need 931 TiB; this machine has "):
        semiblind.io.load_input(path)
    line = _cli(["info", str(path)], capsys, tmp_path)
    assert "would need 931 TiB" in line
    line = _cli(["separate", str(path), "--method", "palm", "--n-sources", "2", "--out",
                 str(tmp_path / "out.npz")], capsys, tmp_path)
    assert "would need 931 TiB" in line
    with pytest.raises(ValueError, match=r"^the event cube .* \(64 channels × 10000000 × 10000000 pixels"):
        semiblind.io.bin_events(path, region=(0, 1e7, 0, 1e7))
    with pytest.raises(ValueError, match=r"would need"):
        semiblind.io.bin_events(path, n_channels=10**7)
    assert time.perf_counter() - t0 < 20  # refused, not attempted
    # the same file binned over the region that holds the data is fine
    cube = semiblind.io.bin_events(path, region=(0, 10, 0, 10))
    assert cube.X.shape == (64, 10, 10) and cube.X.sum() == 100


# ------------------------------------------------------------------------------------------------ FITS


def test_fits_gz_declaring_terabytes_is_refused(tmp_path, small_budget, capsys):
    import gzip

    from astropy.io import fits

    import semiblind.io

    h = fits.Header()
    h["SIMPLE"], h["BITPIX"], h["NAXIS"] = True, -64, 3
    h["NAXIS1"], h["NAXIS2"], h["NAXIS3"] = 40000, 40000, 1000
    p = tmp_path / "huge.fits.gz"
    p.write_bytes(gzip.compress(h.tostring().encode() + b"\0" * 2880 * 4))
    with pytest.raises(ValueError, match=r"^INPUT '.*huge\.fits\.gz' \(its headers declare 11\.6 TiB of data\) "
                                         r"would need 23\.3 TiB; "):
        semiblind.io.load_input(p)
    assert "would need 23.3 TiB" in _cli(["info", str(p)], capsys, tmp_path)


def test_fits_stokes_axis_and_file_dtype(tmp_path):
    """NAXIS = 4 with a length-1 Stokes axis: the spectral CTYPE is the energy axis', BITPIX -32 stays float32."""
    from astropy.io import fits

    import semiblind.io

    data = np.random.default_rng(0).random((1, 8, 6, 5)).astype(np.float32)
    hdu = fits.PrimaryHDU(data)
    hdr = hdu.header
    hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN", "DEC--TAN"
    hdr["CTYPE3"], hdr["CUNIT3"], hdr["CRVAL3"], hdr["CDELT3"], hdr["CRPIX3"] = "ENER", "keV", 1.0, 0.1, 1.0
    hdr["CTYPE4"], hdr["CRVAL4"], hdr["CDELT4"], hdr["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    p = tmp_path / "stokes.fits"
    hdu.writeto(p)
    cube = semiblind.io.load_input(p)
    assert cube.X.shape == (8, 6, 5)
    assert cube.meta["spectral_ctype"] == "ENER"
    assert cube.X.dtype == np.float32 and cube.meta["file_dtype"] == "float32 (BITPIX -32)"
    np.testing.assert_array_equal(cube.X, data[0])
    np.testing.assert_allclose(cube.energies, 1.0 + 0.1 * np.arange(8), rtol=1e-6)


# ------------------------------------------------------------------------------------------------ class 5: devices


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps", "bogus", 3, -1])
def test_unusable_device_is_one_sentence(device):
    usable = {"cuda": torch.cuda.is_available(), "cuda:7": torch.cuda.device_count() > 7,
              "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
              3: torch.cuda.device_count() > 3}
    if usable.get(device, False):
        pytest.skip(f"{device} is usable on this machine")
    with pytest.raises(ValueError) as info:
        resolve_device(device)
    msg = str(info.value)
    assert msg.startswith("device ") and "\n" not in msg and msg.endswith("."), msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_cpu_only_torch_api_and_cli(tmp_path, capsys):
    import semiblind

    X, _, _ = good_arrays()
    with pytest.raises(ValueError, match=r"^device 'cuda' needs a (torch built with CUDA|CUDA GPU)"):
        semiblind.separate(X, 2, method="palm", max_iter=5, device="cuda")
    inp = dataset(tmp_path)
    line = _cli(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "device=cuda",
                 "--out", str(tmp_path / "out.npz")], capsys, tmp_path)
    assert "device 'cuda' needs a" in line
    line = _cli(["separate", str(inp), "--method", "hals", "--n-sources", "2", "--set", "device=mps",
                 "--out", str(tmp_path / "out.npz")], capsys, tmp_path)
    assert "device 'mps' needs Apple's MPS backend" in line


# ------------------------------------------------------------------------------------------------ the top level


def _raise(exc: BaseException):
    def run(args):
        raise exc
    return run


def _torch_linalg_error() -> BaseException:
    try:
        torch.linalg.cholesky(-torch.eye(2))
    except RuntimeError as exc:
        return exc
    raise AssertionError("cholesky of a negative matrix must fail")


def _torch_runtime_error() -> BaseException:
    try:
        torch.ones(2, 3) @ torch.ones(2, 3)
    except RuntimeError as exc:
        return exc
    raise AssertionError("mismatched matmul must fail")


def _torch_assertion_error() -> BaseException:
    if torch.cuda.is_available():
        return AssertionError("Torch not compiled with CUDA enabled")  # what a CPU-only build raises
    try:
        torch.cuda.current_device()
    except AssertionError as exc:
        return exc
    except RuntimeError as exc:
        return AssertionError(str(exc))
    raise AssertionError("unreachable on a machine without CUDA")


@pytest.mark.parametrize("make, code, pattern", [
    (lambda: ValueError("lam must be positive; got -1."), 2, r"^lam must be positive; got -1\.$"),
    (lambda: KeyError("epoch"), 2, r"^missing field 'epoch'$"),
    (lambda: MemoryError("Unable to allocate 520. GiB"), 2, r"^not enough memory for this input"),
    (lambda: OverflowError("Python int too large to convert to C long"), 2, r"^a number is too large"),
    (_torch_linalg_error, 2, r"^the linear algebra failed on this data \(.*\); the data are probably badly scaled"),
    (_torch_runtime_error, 2, r"^torch could not process this input \("),
    (_torch_assertion_error, 2, r"^the device asked for cannot be used|^torch refused this input"),
    (lambda: AttributeError("'int' object has no attribute 'strip'"), 1,
     r"^internal error, please report \(AttributeError: 'int' object has no attribute 'strip'\); set "
     r"SEMIBLIND_DEBUG=1"),
    (lambda: ZeroDivisionError("division by zero"), 1, r"^internal error, please report \(ZeroDivisionError"),
])
def test_every_exception_becomes_one_line(make, code, pattern, monkeypatch, capsys, tmp_path):
    import semiblind.cli._info as info_verb

    exc = make()
    got_code, msg = explain(exc)
    assert got_code == code and re.search(pattern, msg), msg
    assert "\n" not in msg
    monkeypatch.setattr(info_verb, "run", _raise(exc))
    line = _cli(["info", str(tmp_path)], capsys, tmp_path, code=code)
    assert re.search(pattern, line.split("error: ", 1)[1]), line


# ------------------------------------------------------------------------------------------------ class 15 and files


def test_destination_created_by_another_process_is_never_replaced(tmp_path):
    target = tmp_path / "out.fits"
    with pytest.raises(FileExistsError, match=r"^out '.*out\.fits' was created by another process while this one "
                                              r"was running; this result was not written"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"the other run's result")  # the other run finishes first
    assert target.read_bytes() == b"the other run's result"
    assert [q.name for q in tmp_path.iterdir()] == ["out.fits"]
    with atomic_path(target, overwrite=True) as tmp:  # with overwrite the newer result wins, atomically
        tmp.write_bytes(b"mine")
    assert target.read_bytes() == b"mine"


def test_concurrent_separate_to_one_fits_loses_nothing(tmp_path, monkeypatch, capsys):
    """Two ``separate`` runs with the same FITS ``--out``: the other run's file appears while this one is
    writing; this one fails with a sentence and the other's result is intact."""
    import semiblind.io.fits as fits_io

    inp = dataset(tmp_path)
    out = tmp_path / "out.fits"
    real = fits_io.save_fits_result

    def slow_write(tmp, *args, **kw):
        real(tmp, *args, **kw)
        out.write_bytes(b"SIMPLE  = T / the other run")  # the other run renamed its result meanwhile

    monkeypatch.setattr(fits_io, "save_fits_result", slow_write)
    capsys.readouterr()
    rc = main(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5", "--out",
               str(out)])
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line)
    assert rc == 2 and "Traceback" not in err and len(err.strip().split("\n")) == 1
    assert re.search(r"out '.*out\.fits' was created by another process while this one was running", err), err
    assert out.read_bytes() == b"SIMPLE  = T / the other run"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["data.npz", "out.fits"]


@pytest.mark.slow
def test_two_real_processes_one_destination(tmp_path):
    """The real race: two ``python -m semiblind separate`` started together on one FITS ``--out``; never both
    succeed (one result would be lost), and whoever fails says why in one line."""
    inp = dataset(tmp_path)
    out = tmp_path / "out.fits"
    cmd = [sys.executable, "-m", "semiblind", "separate", str(inp), "--method", "palm", "--n-sources", "2",
           "--set", "max_iter=200", "--set", "tol=0", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert "Traceback" not in loser[2] and len(loser[2].strip().split("\n")) == 1
    assert re.search(r"out '.*out\.fits' (already exists|was created by another process)", loser[2]), loser[2]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["data.npz", "out.fits"]


def test_dangling_symlink_out_needs_overwrite(tmp_path, capsys):
    inp = dataset(tmp_path)
    link = tmp_path / "out.npz"
    link.symlink_to(tmp_path / "nowhere.npz")
    with pytest.raises(FileExistsError, match=r"^out '.*out\.npz' is a symbolic link; pass overwrite=True"):
        check_output_path(link, overwrite=False)
    line = _cli(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5", "--out",
                 str(link)], capsys, tmp_path)
    assert re.search(r"--out '.*out\.npz' is a symbolic link; pass overwrite=True \(--overwrite\)", line)
    assert link.is_symlink() and not link.exists()


def test_out_equal_to_input_is_refused_even_with_overwrite(tmp_path, capsys):
    inp = dataset(tmp_path)
    with pytest.raises(ValueError, match=r"^out '.*data\.npz' is the input file"):
        check_output_path(inp, overwrite=True, inputs=[inp])
    line = _cli(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5", "--out",
                 str(inp), "--overwrite"], capsys, tmp_path)
    assert re.search(r"--out '.*data\.npz' is the input file", line)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_folder_is_reported_before_computing(tmp_path, capsys):
    inp = dataset(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        t0 = time.perf_counter()
        line = _cli(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=100000",
                     "--set", "tol=0", "--out", str(ro / "out.npz")], capsys, tmp_path)
        assert time.perf_counter() - t0 < 30
        assert re.search(r"--out '.*ro/out\.npz' cannot be written: its folder '.*ro' is not writable\.$", line)
        assert ".part" not in line
    finally:
        ro.chmod(0o755)


def test_unwritable_folder_message_names_the_target_not_the_temp_file(tmp_path, monkeypatch):
    """Also as root (who may write anywhere): the temporary file cannot be created → the sentence names the
    destination and its folder, never the hidden ``.part`` name."""
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".out.npz.abc.part.npz"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as info:
        with atomic_path(tmp_path / "out.npz"):
            pass
    assert re.fullmatch(r"out '.*out\.npz' cannot be written: its folder '.*' is not writable\.", str(info.value))


# ---------------------------------------------------------------------------------------------- classes 3, 8: resume


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One epoch of a 2-layer LPALM on 3 tiny mixtures, with its checkpoint."""
    folder = tmp_path_factory.mktemp("run")
    train = multi_dataset(folder)
    # the paper's constant lr: a finished 1-epoch run can be extended to 2 by --resume (a one-cycle run cannot)
    rc = main(["train", "lpalm", "--train", str(train), "--out", str(folder / "run"), "--epochs", "1", "--layers",
               "2", "--quiet", "--schedule", "paper"])
    assert rc == 0
    return folder


def _copy_run(src: Path, dst: Path) -> tuple[Path, Path]:
    import shutil

    shutil.copytree(src / "run", dst / "run")
    shutil.copy(src / "multi.npz", dst / "multi.npz")
    return dst / "run", dst / "multi.npz"


def _resume(run: Path, train: Path, *extra: str) -> list[str]:
    return ["train", "lpalm", "--train", str(train), "--out", str(run), "--epochs", "2", "--layers", "2", "--quiet",
            "--schedule", "paper", "--resume", *extra]


def _rewrite_tensors(run: Path, edit) -> None:
    from safetensors.torch import load_file, save_file

    state = json.loads((run / "checkpoint" / "state.json").read_text())
    path = run / "checkpoint" / state["tensors"]
    tensors = dict(load_file(str(path)))
    edit(tensors)
    save_file(tensors, str(path))


def _state(run: Path) -> dict:
    return json.loads((run / "checkpoint" / "state.json").read_text())


def _other_data(folder: Path) -> Path:
    X, A, S = good_arrays(seed=9)
    return write_npz(folder / "other.npz", X=np.stack([X] * 3), A=np.stack([A] * 3), S=np.stack([S] * 3))


@pytest.mark.parametrize("case, tamper, extra, pattern", [
    ("state.json is a list", lambda r: (r / "checkpoint" / "state.json").write_text("[1, 2]"), (),
     r"checkpoint '.*state\.json' must hold a JSON object .*; it holds list\.$"),
    ("state.json without epoch", lambda r: (r / "checkpoint" / "state.json").write_text(
        json.dumps({k: v for k, v in _state(r).items() if k != "epoch"})), (),
     r"checkpoint '.*state\.json' lacks the field\(s\) epoch; it was not written by semiblind train or is damaged"),
    ("a wrong-shaped tensor", lambda r: _rewrite_tensors(r, lambda t: t.__setitem__("model/W", t["model/W"][:1])), (),
     r"checkpoint weights in '.*' do not fit this network: 'W' has shape \(1, 8, 2\), the network needs \(2, 8, 2\)"),
    ("a missing tensor", lambda r: _rewrite_tensors(r, lambda t: t.pop("model/W")), (),
     r"checkpoint weights in '.*' do not fit this network \(missing W\)"),
    ("another --layers", None, ("--layers", "3"),
     r"resume needs the same network as the interrupted run \(layers 2 in the checkpoint, 3 now\)"),
    ("--tied", None, ("--tied",), r"resume needs the same network as the interrupted run \(tied False in the "
                                  r"checkpoint, True now\)"),
    ("another training file", None, ("OTHER",),
     r"resume needs the training data of the interrupted run \(X \(3, 8, 64\), A \(3, 8, 2\), S \(3, 2, 64\), "
     r"SHA-256 [0-9a-f]{12}…\); the training file given now holds other data"),
])
def test_resume_refuses_another_run_or_a_damaged_checkpoint(case, tamper, extra, pattern, finished_run, tmp_path,
                                                            capsys):
    run, train = _copy_run(finished_run, tmp_path)
    if tamper is not None:
        tamper(run)
    argv = _resume(run, train)
    if extra == ("OTHER",):
        argv[argv.index("--train") + 1] = str(_other_data(tmp_path))
    else:
        for flag in extra:
            if flag == "--layers":
                argv[argv.index("--layers") + 1] = extra[1]
                break
            argv.append(flag)
    line = _cli(argv, capsys, tmp_path)
    assert re.search(pattern, line), line


def test_resume_of_the_same_run_still_works(finished_run, tmp_path, capsys):
    run, train = _copy_run(finished_run, tmp_path)
    capsys.readouterr()
    assert main(_resume(run, train)) == 0, capsys.readouterr().err
    assert _state(run)["epoch"] == 2 and _state(run)["data"]["shapes"]["X"] == [3, 8, 64]


def test_checkpoint_api_refusals(finished_run, tmp_path):
    from semiblind.training.checkpoint import data_fingerprint, load_checkpoint

    run, _ = _copy_run(finished_run, tmp_path)
    info, model_state, _, _ = load_checkpoint(run / "checkpoint")
    assert info["model"]["layers"] == 2 and set(info["data"]) == {"shapes", "sha256"}
    X, A, S = good_arrays()
    assert data_fingerprint(X, A, S) == data_fingerprint(X.copy(), A, S)
    assert data_fingerprint(X, A, S) != data_fingerprint(X + 1e-12, A, S)
    (run / "checkpoint" / "state.json").write_text('{"epoch": "one"}')
    with pytest.raises(ValueError, match=r"lacks the field\(s\) tensors, optimizer_groups"):
        load_checkpoint(run / "checkpoint")


# -------------------------------------------------------------------------------------- class 1: never written


def test_non_finite_result_is_never_returned_or_written(tmp_path, monkeypatch, capsys):
    """Whatever a solver produces, a NaN in A or S becomes a sentence and no file (API and command line)."""
    import semiblind
    from semiblind.solvers.palm import PALM

    real = PALM._fit_batch

    def poisoned(self, X, *, image_shape):
        res = real(self, X, image_shape=image_shape)
        res.S[..., 0] = float("nan")
        return res

    monkeypatch.setattr(PALM, "_fit_batch", poisoned)
    X, _, _ = good_arrays()
    with pytest.raises(ValueError, match=r"^PALM produced non-finite values in S \(2 of 128 entries\), so no result "
                                         r"is returned or written"):
        semiblind.separate(X, 2, method="palm", max_iter=5)
    inp = dataset(tmp_path)
    line = _cli(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=5", "--out",
                 str(tmp_path / "out.fits")], capsys, tmp_path)
    assert "PALM produced non-finite values in S" in line
    import semiblind.io

    with pytest.raises(ValueError, match=r"^S must be finite to be written; got 1 NaN or infinite value\(s\) of 128"):
        S = np.ones((2, 64))
        S[0, 0] = np.inf
        semiblind.io.save_result(tmp_path / "r.npz", np.ones((8, 2)), S, info={})
    assert not (tmp_path / "r.npz").exists()


def test_scaled_data_in_range_still_separates():
    """The range check refuses only what the precision cannot carry: HALS at 1e-10 and 1e10 in float32 and PALM
    at 1e100 in float64 give finite, non-zero results."""
    import warnings

    import semiblind

    X, _, _ = good_arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for scale in (1e-10, 1e10):
            sep = semiblind.separate(X * scale, 2, method="hals", max_iter=20)
            assert np.isfinite(sep.S).all() and np.abs(sep.A @ sep.S).max() > 0
            rel = np.linalg.norm(sep.A @ sep.S - X * scale) / np.linalg.norm(X * scale)
            assert rel < 0.5
        sep = semiblind.separate(X * 1e100, 2, method="palm", max_iter=20, dtype="float64", lam=0.0)
        assert np.isfinite(sep.S).all() and np.abs(sep.S).max() > 0


# ------------------------------------------------------------------------------------------------ class 16: demo


def _only_hals(monkeypatch):
    import semiblind.demo as demo

    real = demo._run_demo
    monkeypatch.setattr(demo, "_run_demo", lambda out, seed, quick, progress, wanted: real(out, seed, quick,
                                                                                           progress, ["hals"]))
    return demo


def test_interrupted_demo_leaves_nothing(tmp_path, monkeypatch, capsys):
    """An interrupt while the demo writes its folder (figures already drawn) leaves no folder at all, and a rerun
    is not refused."""
    demo = _only_hals(monkeypatch)
    real_report = demo._write_report

    def interrupted(out, *args, **kw):
        assert (out / "figures" / "spectra.png").is_file()  # the state the issue found left behind
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_write_report", interrupted)
    out = tmp_path / "demo"
    capsys.readouterr()
    rc = main(["demo", "--quick", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 130 and err == "semiblind: interrupted; no partial output was written.\n"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(demo, "_write_report", real_report)
    assert main(["demo", "--quick", "--no-progress", "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and (out / "figures" / "spectra.png").is_file()
    assert [q.name for q in tmp_path.iterdir()] == ["demo"]


@pytest.mark.slow
def test_sigint_during_demo_leaves_nothing(tmp_path):
    """The real signal: SIGINT to ``python -m semiblind demo --quick`` once it writes its staging folder."""
    out = tmp_path / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "semiblind", "demo", "--quick", "--no-progress", "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if any(q.name.endswith(".part") for q in tmp_path.iterdir()):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ class 9: max_iter


def test_max_iter_1e9_allocates_nothing_in_proportion(tmp_path, capsys):
    """``--set max_iter=1000000000``: memory follows the iterations run, not max_iter (PALM's history used to be
    ``torch.zeros(max_iter + 1, 3)``: 12 GB before the first iteration). Peak resident memory of this process
    must grow by less than 1 GiB."""
    import resource

    inp = dataset(tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    capsys.readouterr()
    rc = main(["separate", str(inp), "--method", "palm", "--n-sources", "2", "--set", "max_iter=1000000000",
               "--set", "tol=1e-2", "--out", str(tmp_path / "out.npz")])
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert rc == 0, capsys.readouterr().err
    assert grown < 2**30, f"peak memory grew by {grown / 2**30:.2f} GiB"
    with np.load(tmp_path / "out.npz") as z:
        info = json.loads(str(z["info"]))
    assert info["converged"] and info["iterations"] < 10**6
