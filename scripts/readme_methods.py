"""Regenerate the method table of README.md from the registry (``semiblind.api.method_table``).

    python scripts/readme_methods.py           # rewrite the table between the markers in README.md
    python scripts/readme_methods.py --check   # exit 1 (and say so) when README.md is out of date

``tests/test_registry.py`` runs the check, so a registered method without its README row fails the suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- methods table: generated from the registry by scripts/readme_methods.py; do not edit by hand -->"
END = "<!-- end of methods table -->"


def table_markdown() -> str:
    from semiblind.api import method_table

    lines = ["| method | family | reference | learned (trained model) | needs X ≥ 0 | command |",
             "|---|---|---|---|---|---|"]
    for r in method_table():
        cells = [f"`{r['name']}`", r["family"], r["reference"], "yes" if r["learned"] else "no",
                 "yes" if r["nonnegative"] else "no", f"`--method {r['name']}`"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def render(text: str) -> str:
    """README text with the block between the markers replaced by the current table."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md must hold the markers {BEGIN!r} and {END!r} around the method table.")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table_markdown()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md's method table is out of date: run python scripts/readme_methods.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
