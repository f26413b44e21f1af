"""HTML reports (self-contained, figures embedded) and Markdown/plain tables."""

from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import semiblind.report as report
from semiblind.report import format_table, write_report


def test_markdown_table():
    text = format_table(["method", "NMSE A", "ok"], [["gmca", 0.0123456, True], ["palm", 3.0, False]])
    # widths 6 / 7 / 5; the numeric column is right-aligned with a ---: rule; 4 significant digits
    assert text.splitlines() == [
        "| method |  NMSE A | ok    |",
        "| ------ | ------: | ----- |",
        "| gmca   | 0.01235 | True  |",
        "| palm   |       3 | False |",
    ]


def test_plain_table_alignment():
    text = format_table(["a", "value"], [["x", 1.5], ["longer", -20.25]], style="plain", floatfmt=".2f")
    assert text.splitlines() == [
        "a" + " " * 8 + "value",  # "a" padded to 6, two spaces, "value" right-aligned in 6
        "------  ------",
        "x" + " " * 9 + "1.50",
        "longer  -20.25",
    ]


def test_table_errors():
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 cells"):
        format_table(["a", "b"], [[1, 2], [3]])
    with pytest.raises(ValueError, match="style must be"):
        format_table(["a"], [[1]], style="latex")


def test_report_is_self_contained(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0, 1])
    png = tmp_path / "extra.png"
    fig.savefig(png)
    out = write_report(
        tmp_path / "rep",
        title="Demo <run>",
        sections=[("Spectra", "First paragraph.\n\nSecond & last.", [fig, ("a saved file", png)]),
                  ("Raw", "<p><b>bold</b></p>", [])],
        tables=[("Metrics", ["method", "SAD dB"], [["gmca", 21.5]])],
    )
    plt.close(fig)
    assert out == tmp_path / "rep" / "index.html"
    text = out.read_text(encoding="utf-8")
    assert "<title>Demo &lt;run&gt;</title>" in text
    assert "<p>Second &amp; last.</p>" in text and "<p><b>bold</b></p>" in text
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 2
    assert all(base64.b64decode(b).startswith(b"\x89PNG") for b in images)
    assert base64.b64decode(images[1]) == png.read_bytes()
    assert "<caption>Metrics</caption>" in text and '<td class="num">21.5</td>' in text
    # nothing external: no http(s) links, no src/href other than data URIs
    assert "http://" not in text and "https://" not in text
    assert all(s.startswith("data:") for s in re.findall(r'(?:src|href)="([^"]*)"', text))


def test_report_overwrite_and_errors(tmp_path):
    write_report(tmp_path / "r", title="one")
    with pytest.raises(FileExistsError, match="already exists"):
        write_report(tmp_path / "r", title="two")
    write_report(tmp_path / "r", title="two", overwrite=True)
    assert "<h1>two</h1>" in (tmp_path / "r" / "index.html").read_text()
    with pytest.raises(FileNotFoundError, match="existing directory"):
        write_report(tmp_path / "missing" / "r", title="x")
    bad = tmp_path / "notpng.png"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="must be a PNG or JPEG"):
        write_report(tmp_path / "r2", title="x", sections=[("s", "t", [bad])])
    assert not (tmp_path / "r2").exists()  # nothing written when a figure is bad


def test_interrupted_report_leaves_old_file(tmp_path, monkeypatch):
    out = write_report(tmp_path / "r", title="first")
    before = out.read_bytes()

    def boom(path, text, *, overwrite=True):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(report, "atomic_write_text", boom)
    with pytest.raises(RuntimeError):
        write_report(tmp_path / "r", title="second", overwrite=True)
    assert out.read_bytes() == before
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["index.html"]
