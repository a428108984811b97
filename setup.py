"""Extension modules only; everything else is in pyproject.toml.

NETMAP_PY_DEBUG=1 builds with Cython line tracing, bounds checks and annotate HTML, and
turns every compiler warning into an error (scripts/test.sh runs that build), so the
build stays warning-free.
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("NETMAP_PY_DEBUG") == "1"
HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = [os.path.join(HERE, "netmap_py", "include"), os.path.join(HERE, "netmap_py")]
CFLAGS = ["-O2", "-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]
MACROS = [("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
if DEBUG:
    CFLAGS.append("-Werror")

extensions = [
    Extension("netmap_py._core", ["netmap_py/_core.pyx"], include_dirs=INCLUDE,
              extra_compile_args=CFLAGS, define_macros=MACROS),
    Extension("netmap_py._bridge", ["netmap_py/_bridge.pyx"], include_dirs=INCLUDE,
              extra_compile_args=CFLAGS, define_macros=MACROS),
]
if os.path.exists(os.path.join(HERE, "pktgen_nm", "_engine.pyx")):
    extensions.append(
        Extension("pktgen_nm._engine", ["pktgen_nm/_engine.pyx"], include_dirs=INCLUDE,
                  extra_compile_args=CFLAGS, define_macros=MACROS))

setup(
    ext_modules=cythonize(
        extensions,
        include_path=[HERE],
        annotate=DEBUG,
        compiler_directives={"language_level": 3, "linetrace": DEBUG,
                             "boundscheck": DEBUG, "wraparound": False},
    ),
)
