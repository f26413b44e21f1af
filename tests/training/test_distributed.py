"""Data-parallel training (torch.distributed, gloo): 2 CPU processes give the single-process parameters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from semiblind.training import build_model, train
from semiblind.training.distributed import DistContext, free_port, from_env, local_worker_env

WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from safetensors.numpy import save_file
    from semiblind.training import build_model, train

    def data(seed, N, m=8, n=2, t=30):
        rng = np.random.default_rng(seed)
        A = rng.random((N, m, n)) + np.eye(m, n)
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
        return A @ S + 0.01 * rng.standard_normal((N, m, t)), A, S

    out, mode = sys.argv[1], sys.argv[2]
    tr, va = data(0, 13), data(1, 5)
    model = build_model("lpalm", tr, layers=3, dtype="float64")
    kw = dict(epochs=2, lr=3e-3, batch_size=5, seed=3, progress=False, lr_schedule="cosine", warmup=0.2,
              clip_grad=1.0)
    if mode == "dist-resume":  # stopped after its first epoch (max_seconds), then resumed from the checkpoint
        first = train(model, tr, va, out_dir=out + "/run", distributed=None, max_seconds=1e-9, **kw)
        model = build_model("lpalm", tr, layers=3, dtype="float64")
        res = train(model, tr, va, out_dir=out + "/run", distributed=None, resume=True, **kw)
        import os as _os
        with open(f"{out}/epochs{_os.environ.get('RANK', '0')}.txt", "w") as f:
            f.write(f"{first.epochs_run} {res.epochs_run} {len(res.history)}")
    else:
        res = train(model, tr, va, out_dir=out + "/run", distributed=None if mode == "dist" else False, **kw)
    import os
    rank = os.environ.get("RANK", "0")
    save_file({k: v.detach().numpy() for k, v in res.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
""")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra})
    return env


def _max_rel(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-300)) for k in a)


@pytest.mark.parametrize("mode", ["dist", "dist-resume"])
def test_two_processes_match_one_process(tmp_path, mode):
    """2 gloo processes, 2 epochs (``dist``), or 1 epoch stopped by ``max_seconds`` and resumed from the checkpoint
    by both processes (``dist-resume``): the parameters of the single-process run (float64, ≤ 1e-6 relative)."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    subprocess.run([sys.executable, str(script), str(single), "one"], check=True, env=_env(), timeout=120)
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(multi), mode],
                              env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                       MASTER_PORT=port)) for r in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    ref = load_file(str(single / "rank0.safetensors"))
    r0, r1 = load_file(str(multi / "rank0.safetensors")), load_file(str(multi / "rank1.safetensors"))
    assert _max_rel(r0, ref) < 1e-6 and _max_rel(r1, ref) < 1e-6
    if mode == "dist-resume":  # each rank stopped after epoch 1 and its second call ran epoch 2 only
        assert [(multi / f"epochs{r}.txt").read_text().split()[:2] for r in range(2)] == [["1", "2"]] * 2
    # the parameters moved (the comparison is not between two untrained models)
    init = build_model("lpalm", _tiny(), layers=3, dtype="float64").state_dict()
    assert any(float(np.max(np.abs(init[k].numpy() - ref[k]))) > 1e-4 for k in ref)
    # only rank 0 wrote the run folder, with the same log length and model files as the single run
    assert (multi / "run" / "config.json").is_file() and (multi / "run" / "model.safetensors").is_file()
    assert len((multi / "run" / "train_log.jsonl").read_text().splitlines()) == 2
    saved = load_file(str(multi / "run" / "model.safetensors"))
    assert _max_rel(saved, load_file(str(single / "run" / "model.safetensors"))) < 1e-6


def _tiny():
    rng = np.random.default_rng(0)
    N, m, n, t = 13, 8, 2, 30
    A = rng.random((N, m, n)) + np.eye(m, n)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    S = rng.standard_normal((N, n, t)) * (rng.random((N, n, t)) < 0.3)
    return A @ S + 0.01 * rng.standard_normal((N, m, t)), A, S


def test_shards_cover_the_batch_contiguously():
    idx = torch.arange(7)
    parts = [DistContext(rank=r, world_size=3).shard(idx).tolist() for r in range(3)]
    assert parts == [[0, 1, 2], [3, 4], [5, 6]]
    assert [DistContext(rank=r, world_size=3).shard(torch.arange(2)).tolist() for r in range(3)] == [[0], [1], []]


def test_single_process_is_unchanged_without_world_size(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert from_env() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert from_env() is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match="RANK"):
        from_env()
    with pytest.raises(TypeError, match="distributed must be"):
        train(build_model("lpalm", _tiny(), layers=2), _tiny(), epochs=1, progress=False, distributed="yes")


def test_local_worker_env_is_torchruns():
    env = local_worker_env(1, 2, 29511)
    assert env == {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29511"}
    for bad in ((0, 0), (2, 2), (-1, 2), (True, 2)):
        with pytest.raises(ValueError, match="rank|world_size"):
            local_worker_env(*bad, 29511)


def test_cli_workers_error_is_one_line_with_exit_code_2(tmp_path, capfd):
    """A worker that fails says so in one line; the command exits 2, with no launcher traceback and no abort."""
    from semiblind.cli import main
    from semiblind.data.mixtures import MixtureSet

    X, A, S = _tiny()
    MixtureSet(X=X, A=A, S=S).save(tmp_path / "tr.npz")
    code = main(["train", "lpalm", "--train", str(tmp_path / "tr.npz"), "--out", str(tmp_path / "m"), "--layers",
                 "2", "--epochs", "1", "--quiet", "--workers", "2", "--resume"])
    err = capfd.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("semiblind train: error: resume=True but") for ln in lines), err
    assert "Traceback" not in err and "terminate called" not in err


def test_cli_workers_matches_one_process(tmp_path, capsys):
    from semiblind.cli import main
    from semiblind.cli._workers import without_workers
    from semiblind.data.mixtures import MixtureSet

    X, A, S = _tiny()
    MixtureSet(X=X, A=A, S=S).save(tmp_path / "tr.npz")
    base = ["train", "lpalm", "--train", str(tmp_path / "tr.npz"), "--layers", "2", "--epochs", "1",
            "--batch-size", "5", "--dtype", "float64", "--quiet"]
    assert without_workers(base + ["--workers", "2"]) == base == without_workers(base + ["--workers=2"])
    assert main(base + ["--out", str(tmp_path / "one")]) == 0
    assert main(base + ["--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("one", "two"))
    assert _max_rel(two, one) < 1e-6
    assert main(["train", "nalmu", "--train", str(tmp_path / "tr.npz"), "--out", str(tmp_path / "x"),
                 "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err
