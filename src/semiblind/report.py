"""Reports: a self-contained HTML page (figures embedded as base64 PNG data URIs, tables as HTML, no external
resources) and plain-text/Markdown tables for the console and ``.md`` files.

Used by ``semiblind demo``, ``semiblind evaluate --report`` (:func:`write_evaluation_report`) and the
``reproduce`` targets.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._files import atomic_write_text, check_output_dir
from ._version import __version__

__all__ = ["format_cell", "format_table", "html_table", "write_evaluation_report", "write_report"]

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: .95em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { margin-top: 3em; font-size: .8em; color: #777; }
"""


# ---------------------------------------------------------------------------------------------- tables


def format_cell(value: Any, floatfmt: str = ".4g") -> str:
    """A table cell as text: floats with ``floatfmt`` (NaN as ``nan``, ±inf as ``inf``), others ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return format(v, floatfmt)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], what: str = "rows") -> None:
    if isinstance(header, (str, bytes)) or not isinstance(header, Sequence) or len(header) == 0:
        raise TypeError(f"header must be a non-empty list of column names; got {header!r}.")
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise TypeError(f"{what}[{i}] must be a list of cells; got {type(row).__name__}.")
        if len(row) != len(header):
            raise ValueError(
                f"{what}[{i}] must have {len(header)} cells (one per column of the header); got {len(row)}."
            )


def format_table(
    header: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    style: str = "markdown",
    floatfmt: str = ".4g",
) -> str:
    """Render a table as text.

    ``style="markdown"``: a GitHub-flavoured Markdown table (numeric columns right-aligned, ``---:``);
    ``style="plain"``: space-aligned columns under a dashed rule, for the console. Floats use ``floatfmt``.
    """
    if style not in ("markdown", "plain"):
        raise ValueError(f"style must be 'markdown' or 'plain'; got {style!r}.")
    rows = [list(r) for r in rows]
    _check_table(header, rows)
    head = [str(h) for h in header]
    cells = [[format_cell(v, floatfmt) for v in r] for r in rows]
    numeric = [bool(rows) and all(_is_number(r[j]) or r[j] is None for r in rows) for j in range(len(head))]
    widths = [max([len(head[j])] + [len(c[j]) for c in cells]) for j in range(len(head))]

    def pad(text: str, j: int) -> str:
        return text.rjust(widths[j]) if numeric[j] else text.ljust(widths[j])

    if style == "markdown":
        esc = [[c.replace("|", "\\|") for c in row] for row in [head, *cells]]
        widths = [max(len(r[j]) for r in esc) for j in range(len(head))]
        lines = ["| " + " | ".join(pad(c, j) for j, c in enumerate(esc[0])) + " |"]
        rule = [
            ("-" * max(widths[j] - 1, 2) + ":") if numeric[j] else "-" * max(widths[j], 3)
            for j in range(len(head))
        ]
        lines.append("| " + " | ".join(rule) + " |")
        lines += ["| " + " | ".join(pad(c, j) for j, c in enumerate(row)) + " |" for row in esc[1:]]
        return "\n".join(lines)
    lines = ["  ".join(pad(h, j) for j, h in enumerate(head)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(pad(c, j) for j, c in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def html_table(
    caption: str, header: Sequence[Any], rows: Sequence[Sequence[Any]], *, floatfmt: str = ".4g"
) -> str:
    """An HTML ``<table>`` (escaped text; numeric cells right-aligned)."""
    rows = [list(r) for r in rows]
    _check_table(header, rows)
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(str(caption))}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        tds = []
        for v in r:
            cls = ' class="num"' if _is_number(v) else ""
            tds.append(f"<td{cls}>{html.escape(format_cell(v, floatfmt))}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- figures


def _figure_png(fig: Any, *, dpi: int) -> bytes:
    """PNG bytes of a matplotlib Figure or of a PNG/JPEG file."""
    if hasattr(fig, "savefig"):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        return buf.getvalue()
    if isinstance(fig, (str, os.PathLike)):
        p = Path(fig)
        if not p.is_file():
            raise FileNotFoundError(f"figure file {str(p)!r} does not exist.")
        data = p.read_bytes()
        if not (data.startswith(_PNG) or data.startswith(_JPEG)):
            raise ValueError(f"figure file {str(p)!r} must be a PNG or JPEG image; its first bytes are not.")
        return data
    raise TypeError(
        f"each figure must be a matplotlib Figure or the path of a PNG file; got {type(fig).__name__}."
    )


def _img_tag(data: bytes, alt: str) -> str:
    mime = "image/png" if data.startswith(_PNG) else "image/jpeg"
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:{mime};base64,{b64}" alt="{html.escape(alt, quote=True)}">'


def _body_html(text: str) -> str:
    """HTML is kept as given (a string starting with ``<``); plain text is escaped, ``<p>`` per paragraph."""
    if not text:
        return ""
    if text.lstrip().startswith("<"):
        return text
    paras = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paras)


# ---------------------------------------------------------------------------------------------- report


def write_report(
    out_dir: str | os.PathLike,
    *,
    title: str,
    sections: Sequence[tuple[str, str, Sequence[Any]]] = (),
    tables: Sequence[tuple[str, Sequence[Any], Sequence[Sequence[Any]]]] = (),
    overwrite: bool = False,
    dpi: int = 110,
    filename: str = "index.html",
) -> Path:
    """Write a self-contained HTML report ``out_dir/index.html`` atomically and return its path.

    Parameters
    ----------
    out_dir : folder of the report; created when missing (its parent must exist).
    title : page title and first heading.
    sections : ``(heading, html_or_text, figures)`` triples. ``html_or_text`` starting with ``<`` is inserted
        as HTML, otherwise escaped (blank lines separate paragraphs). ``figures``: matplotlib Figures or PNG
        (or JPEG) paths, or ``(caption, figure)`` pairs; each is embedded as a base64 data URI.
    tables : ``(caption, header, rows)`` triples, rendered after the sections as HTML tables.
    overwrite : replace an existing report; otherwise an existing file raises ``FileExistsError``.
    dpi : resolution of rendered Figures.

    The page links to nothing outside itself: it opens offline and can be mailed as one file.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a str; got {type(title).__name__}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir must be a folder; {str(out)!r} is a file.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(
            f"out_dir must be in an existing directory; got {str(out)!r} (directory "
            f"{str(parent)!r} does not exist)."
        )
    target = out / filename
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"report {str(target)!r} already exists; pass overwrite=True (--overwrite) to replace it."
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for i, section in enumerate(sections):
        if not isinstance(section, (tuple, list)) or len(section) != 3:
            raise TypeError(
                f"sections[{i}] must be a (heading, html_or_text, figures) triple; got {section!r:.80}."
            )
        heading, body, figures = section
        parts.append("<section>")
        if heading:
            parts.append(f"<h2>{html.escape(str(heading))}</h2>")
        parts.append(_body_html(str(body) if body is not None else ""))
        for j, fig in enumerate(figures or ()):
            caption = ""
            if isinstance(fig, tuple) and len(fig) == 2 and isinstance(fig[0], str):
                caption, fig = fig
            alt = caption or f"{heading} — figure {j + 1}"
            tag = _img_tag(_figure_png(fig, dpi=dpi), alt)
            cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
            parts.append(f"<figure>{tag}{cap}</figure>")
        parts.append("</section>")
    for i, table in enumerate(tables):
        if not isinstance(table, (tuple, list)) or len(table) != 3:
            raise TypeError(f"tables[{i}] must be a (caption, header, rows) triple; got {table!r:.80}.")
        caption, header, rows = table
        parts.append(html_table(str(caption), header, rows))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>Written by semiblind {html.escape(__version__)} on {stamp}.</footer>")
    parts += ["</body>", "</html>", ""]
    out.mkdir(exist_ok=True)
    return atomic_write_text(target, "\n".join(parts), overwrite=overwrite)


# ------------------------------------------------------------------------------------------------ evaluation


def source_names(families: Any, n: int) -> list[str]:
    """One name per source: ``families`` (a list of ``n`` names, e.g. a data file's ``meta["families"]``) when
    it fits, else ``"source 1"`` … ``"source n"``; repeated names get their rank (``iron 1``, ``iron 2``)."""
    if isinstance(families, (list, tuple)) and len(families) == n and all(isinstance(f, str) and f for f in families):
        names = [str(f) for f in families]
        if len(set(names)) < n:
            names = [f"{f} {names[:j].count(f) + 1}" if names.count(f) > 1 else f for j, f in enumerate(names)]
        return names
    return [f"source {j + 1}" for j in range(n)]


def write_evaluation_report(
    out_dir: str | os.PathLike,
    A_est: Any,
    S_est: Any,
    A_true: Any,
    S_true: Any,
    *,
    X: Any = None,
    energies: Any = None,
    noise: Any = None,
    method: str = "estimate",
    title: str | None = None,
    overwrite: bool = False,
    families: Any = None,
    spectral_unit: str | None = None,
) -> Path:
    """An HTML report (``out_dir/index.html`` with its PNG figures in ``out_dir/figures/``) scoring one
    separation against the truth, for ``semiblind evaluate --report DIR``.

    The estimate is aligned (:func:`semiblind.metrics.align`) and scored (:func:`semiblind.metrics.evaluate`);
    the report shows the overall and per-source metrics, per-source metric bars, the estimated vs true
    spectra, the true and estimated maps (when S is an image ``(n, H, W)``) and, with the data ``X``, the
    residual map (:func:`semiblind.plot.plot_residual`). Sources are named by ``families`` (one name per
    true source, e.g. the data's ``meta["families"]``; default "source k"); the spectra are drawn on a log scale
    when the true spectra are nonnegative (as in the demo), against ``energies`` in ``spectral_unit`` (default
    keV). Columns say what they hold and which way is better (``cos A ↑``, ``NMSE A ↓``). Returns the report's
    path.
    """
    import numpy as np

    from . import metrics, plot

    out = check_output_dir(out_dir, overwrite=overwrite)
    A_est = np.asarray(A_est, dtype=np.float64)
    A_true = np.asarray(A_true, dtype=np.float64)
    S_true = np.asarray(S_true, dtype=np.float64)
    S_est = np.asarray(S_est, dtype=np.float64)
    if S_est.size == S_true.size:
        S_est = S_est.reshape(S_true.shape)
    s = metrics.evaluate(A_est, S_est, A_true, S_true, noise=noise)
    A_al, S_al = metrics.align(A_est, S_est, A_true)
    n = A_true.shape[1]
    keys = [("nmse_A", "NMSE A ↓"), ("nmse_S", "NMSE S ↓"), ("sad_A", "cos A ↑"), ("sad_db_A", "SAD A (dB) ↑"),
            ("sdr", "SDR (dB) ↑"), ("sir", "SIR (dB) ↑"), ("sar", "SAR (dB) ↑")] + (
        [("snr", "SNR (dB) ↑")] if "snr" in s else [])
    names = source_names(families, n)
    overall = html_table(f"{method}: overall metrics after alignment", [k[1] for k in keys],
                         [[float(s[k]) for k, _ in keys]])
    per = {names[j]: {"sad_db_A": float(s["sad_db_A_per_component"][j]),
                               "sdr": float(s["sdr_per_source"][j]), "sir": float(s["sir_per_source"][j]),
                               "sar": float(s["sar_per_source"][j])} for j in range(n)}
    per_rows = [[name, *row.values()] for name, row in per.items()]
    per_html = html_table("per source", ["source", "SAD A (dB) ↑", "SDR (dB) ↑", "SIR (dB) ↑", "SAR (dB) ↑"],
                          per_rows)
    out.mkdir(exist_ok=True)
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    figs: list[tuple[str, Path]] = []
    p = fig_dir / "metrics.png"
    plot.save_figure(plot.plot_metric_bars(per, metrics=("sad_db_A", "sdr", "sir", "sar")), p, dpi=90)
    figs.append(("per-source metrics", p))
    spec_fig = fig_dir / "spectra.png"
    log_scale = bool(np.all(A_true >= 0) and np.any(A_true > 0))
    plot.save_figure(plot.plot_spectra(A_al, A_true, energies, log=log_scale, titles=names,
                                       spectral_unit=spectral_unit), spec_fig, dpi=90)
    sections = [("Metrics", f"<div>{overall}{per_html}</div>", figs),
                ("Spectra: estimated (dashed) vs true (black)", "Columns of A after alignment.",
                 [("spectra", spec_fig)])]
    if S_true.ndim == 3:
        maps = fig_dir / "maps.png"
        stack = np.concatenate([S_true, S_al], axis=0)
        titles = [f"truth: {names[j]}" for j in range(n)] + [f"{method}: {names[j]}" for j in range(n)]
        plot.save_figure(plot.plot_maps(stack, titles=titles, ncols=n, colorbar=False), maps, dpi=80)
        sections.append(("Source maps", "First row: truth; second row: the aligned estimate.",
                         [("maps", maps)]))
    if X is not None:
        res = fig_dir / "residual.png"
        shape = S_true.shape[1:] if S_true.ndim == 3 else None
        Xa = np.asarray(X, dtype=np.float64)
        if Xa.ndim == 2 and shape is not None:
            Xa = Xa.reshape(Xa.shape[0], *shape)
        if Xa.ndim == 3:
            plot.save_figure(plot.plot_residual(Xa, A_est, S_est.reshape(n, *Xa.shape[1:]), energies,
                                                title=method, spectral_unit=spectral_unit), res, dpi=80)
            sections.append(("Residual", "Data norm, residual norm per pixel and RMS residual per channel.",
                             [("residual", res)]))
    return write_report(out, title=title or f"semiblind evaluate — {method}", sections=sections,
                        overwrite=True)
