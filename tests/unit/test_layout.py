"""The test tree itself: pytest imports test modules by their base name (there is no
__init__.py), so two test files of one name in different tiers break collection."""
import collections
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_file_names_are_unique_across_tiers():
    seen = collections.defaultdict(list)
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.startswith("test_") and f.endswith(".py"):
                seen[f].append(os.path.relpath(os.path.join(folder, f), ROOT))
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
