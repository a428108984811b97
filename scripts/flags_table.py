#!/usr/bin/env python3
"""Write pktgen-nm's flags table into README.md (between the FLAGS markers), from
argparse, so it cannot drift.  --check: exit 1 if the README is stale."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pktgen_nm.cli import build_parser  # noqa: E402

BEGIN, END = "<!-- FLAGS:BEGIN (scripts/flags_table.py) -->", "<!-- FLAGS:END -->"


def table() -> str:
    rows = ["| flag | argument | meaning |", "|---|---|---|"]
    for act in build_parser()._actions:
        flag = ", ".join(f"`{o}`" for o in act.option_strings)
        arg = f"`{act.metavar}`" if act.metavar else ""
        text = (act.help or "").replace("%%", "%").replace("|", "\\|")
        rows.append(f"| {flag} | {arg} | {text} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv) -> int:
    path = os.path.join(ROOT, "README.md")
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        print("README.md has no FLAGS markers", file=sys.stderr)
        return 1
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md flags table is stale: run scripts/flags_table.py")
            return 1
        return 0
    with open(path, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
