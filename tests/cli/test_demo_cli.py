"""`semiblind demo`: the README's first command, in-process through semiblind.cli.main."""

from __future__ import annotations

from semiblind import demo
from semiblind.cli import main


def test_demo_quick_writes_the_report_and_prints_the_table(tmp_path, capsys, monkeypatch):
    # GMCA and PALM only, to keep the test short (tests/test_demo.py runs every method).
    monkeypatch.setattr(demo, "DEMO_METHODS", ("gmca", "palm"))
    out = tmp_path / "d"
    assert main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].split()[:3] == ["method", "NMSE", "A"]
    assert [ln.split()[0] for ln in lines[2:4]] == ["gmca", "palm"]
    assert "wall-clock" in printed and str(out / "index.html") in printed
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert (out / "results" / "gmca.fits").is_file() and (out / "results" / "palm.npz").is_file()

    # the evaluate verb scores a demo result against the demo truth
    assert main(["evaluate", str(out / "results" / "gmca.npz"), "--truth", str(out / "truth.npz")]) == 0
    assert "overall" in capsys.readouterr().out
    rep = tmp_path / "rep"
    args = ["evaluate", str(out / "results" / "palm.fits"), "--truth", str(out / "truth.npz"), "--report", str(rep)]
    assert main(args) == 0
    assert str(rep / "index.html") in capsys.readouterr().out
    html = (rep / "index.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4  # metric bars, spectra, maps, residual
    assert main(args) == 2  # the report folder is not empty now
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0

    # a second run into the same folder needs --overwrite: one line, exit code 2, nothing changed
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semiblind demo: error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_demo_out_in_missing_folder_exits_2(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path / "no" / "such")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
