"""`semiblind reproduce`: listing, a smoke run of lpalm-table1 through the real dispatcher, bad names."""

from __future__ import annotations

from semiblind.cli import main


def test_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("lpalm-table1", "lpalm-fig2", "lpalm-init", "lpalm-appendix-d"):
        assert name in out


def test_table1_smoke_run(shared_xray, tmp_path, capsys):
    out_dir = tmp_path / "t1"
    rc = main(["reproduce", "lpalm-table1", "--smoke", "--out", str(out_dir), "--data", str(shared_xray),
               "--quiet", "--seed", "3"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "0.00085" in printed and "0.0176" in printed  # the paper's Table 1 beside ours
    assert (out_dir / "lpalm-table1.md").is_file() and (out_dir / "lpalm-table1.json").is_file()


def test_bad_usage_exits_2(capsys, tmp_path):
    assert main(["reproduce", "lpalm-table9"]) == 2
    assert "NAME must be one of" in capsys.readouterr().err
    assert main(["reproduce"]) == 2
    assert main(["reproduce", "lpalm-table1", "--smoke", "--quiet", "--data", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "chandra_casa_spectra_65ch" in capsys.readouterr().err
