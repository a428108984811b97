"""The README's flags table is argparse's, and every flag is in --help."""
import os
import re
import subprocess
import sys

from pktgen_nm.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_flags():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- FLAGS:BEGIN")[1].split("<!-- FLAGS:END -->")[0]
    return set(re.findall(r"`(-{1,2}[\w-]+)`", block))


def parser_flags():
    return {o for a in build_parser()._actions for o in a.option_strings}


def test_readme_table_is_generated_and_current():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "flags_table.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_flag_both_ways():
    help_text = build_parser().format_help()
    flags = parser_flags()
    assert readme_flags() == flags
    for f in flags:
        assert f in help_text, f


def test_pkt_gen_letters_all_present():
    letters = "i f n l b d s D S a c p T w W R X H P z Z N F M I v r A B C o 4 6 h".split()
    assert {f"-{c}" for c in letters} <= parser_flags()
