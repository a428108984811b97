"""Test tiers: tests/unit (no privilege), tests/lab (root + namespaces), tests/cluster
(root + namespaces + Ray: a local Ray cluster, a node per namespace), tests/netmap
(/dev/netmap).  Every test must close every port and release every buffer view it
made: the autouse fixture below checks the core's counters after each test."""
from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from netmap_py import _core  # noqa: E402


@pytest.fixture(autouse=True)
def _balanced_resources():
    before = _core.debug_counters()
    yield
    import gc
    gc.collect()
    after = _core.debug_counters()
    assert after["ports_open"] == before["ports_open"], "a test left a port open"
    assert after["views_alive"] == before["views_alive"], "a test left a buffer view alive"


def lab_skip_reason() -> str | None:
    from pktgen_nm.lab import can_run
    return can_run()


def pytest_collection_modifyitems(config, items):
    lab_why = lab_skip_reason()
    netmap_why = None if os.path.exists("/dev/netmap") else \
        "/dev/netmap is missing: the netmap module is not loaded on this machine"
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}lab{os.sep}" in path or f"{os.sep}cluster{os.sep}" in path:
            item.add_marker(pytest.mark.lab)   # the cluster tier is a lab of Ray nodes
            if lab_why:
                item.add_marker(pytest.mark.skip(reason=lab_why))
        if f"{os.sep}netmap{os.sep}" in path:
            item.add_marker(pytest.mark.netmap)
            if netmap_why:
                item.add_marker(pytest.mark.skip(reason=netmap_why))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, a lab test skipped on a machine that can run the lab fails."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or os.environ.get("CI") != "true":
        return
    if item.get_closest_marker("lab") and lab_skip_reason() is None:
        rep.outcome = "failed"
        rep.longrepr = f"lab test skipped on a machine that can run the lab: {rep.longrepr}"
    if item.get_closest_marker("netmap") and os.environ.get("NETMAP_PY_GUEST") == "1":
        rep.outcome = "failed"      # scripts/test.sh brought the tier to the module
        rep.longrepr = f"netmap test skipped in the netmap guest: {rep.longrepr}"
