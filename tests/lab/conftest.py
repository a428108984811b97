"""Lab fixtures: namespaces joined by veth pairs, made per test and always removed."""
from __future__ import annotations

import itertools

import pytest

from pktgen_nm.lab import VethLab, cleanup_stale

_tags = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def _no_stale_labs():
    cleanup_stale()
    yield
    cleanup_stale()


@pytest.fixture
def lab():
    with VethLab(tag=f"t{next(_tags)}") as lb:
        lb.wait_carrier()
        yield lb


@pytest.fixture
def lab3():
    with VethLab(tag=f"u{next(_tags)}", three=True) as lb:
        lb.wait_carrier()
        yield lb
