"""The Cython API we advertise works from an installed wheel: build the wheel, install
it into a folder of its own, and compile a small extension that cimports
netmap_py._core against it (as pyzmq's test suite does for its own pxd files)."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

USER_PYX = """
# cython: language_level=3
from netmap_py._core cimport Port, nmpy_port, nmpy_buf_cap
from netmap_py.netmap cimport netmap_ring, NETMAP_TXRING, nm_ring_space
from netmap_py.bpf cimport nmpy_prog_load

def bad_prog():
    # an empty program: the kernel refuses it (EINVAL), or bpf() is not allowed
    return nmpy_prog_load(NULL, 0, "userext", NULL, 0)

def tx_space(Port port):
    cdef nmpy_port *p = &port.c
    cdef netmap_ring *r = NETMAP_TXRING(p.nifp, p.first_tx_ring)
    return nm_ring_space(r), nmpy_buf_cap(p, r)
"""
USER_SETUP = """
import netmap_py
from Cython.Build import cythonize
from setuptools import Extension, setup
setup(name="userext", ext_modules=cythonize(
    [Extension("userext", ["userext.pyx"], include_dirs=[netmap_py.get_include()])]))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: nothing can be compiled")
    tmp = tmp_path_factory.mktemp("wheel")
    wheels, site = tmp / "wheels", tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    ROOT], check=True, capture_output=True, text=True, timeout=900)
    whl = next(wheels.glob("netmap_py-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(whl)], check=True, capture_output=True, text=True, timeout=300)
    return whl, site


def test_the_wheel_ships_the_header_and_no_generated_c(installed):
    import zipfile
    whl, _ = installed
    names = zipfile.ZipFile(whl).namelist()
    assert "netmap_py/include/netmap_abi.h" in names
    assert "netmap_py/_core.pxd" in names and "netmap_py/netmap.pxd" in names
    assert not [n for n in names if n.endswith(".c")], "generated C in the wheel"


def test_an_extension_cimports_the_installed_core(installed, tmp_path):
    _, site = installed
    (tmp_path / "userext.pyx").write_text(textwrap.dedent(USER_PYX))
    (tmp_path / "setup.py").write_text(textwrap.dedent(USER_SETUP))
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("PYTHONSAFEPATH", None)
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    check = ("import netmap_py, userext\n"
             f"assert netmap_py.__file__.startswith({str(site)!r}), netmap_py.__file__\n"
             "assert userext.bad_prog() < 0\n"
             "with netmap_py.open('loop:a') as p:\n"
             "    print(userext.tx_space(p))\n")
    r = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(1023, 2048)"
