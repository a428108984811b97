"""constants.py and constants.pxd are generated from vendor/constants.tsv."""
import os
import subprocess
import sys

from netmap_py import constants as C

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gen_constants  # noqa: E402


def test_generated_files_in_sync():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_constants.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_values_are_the_table():
    rows = gen_constants.read_table()
    assert len(rows) >= 50
    for name, value, _group, _meaning in rows:
        assert getattr(C, name) == int(value, 0)
    assert sorted(C.__all__) == sorted(r[0] for r in rows)


def test_exported_at_top_level():
    import netmap_py
    assert netmap_py.NS_BUF_CHANGED == 1 and netmap_py.NR_REG_ONE_NIC == 4
