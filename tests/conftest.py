"""Test files that need an optional package are collected only where it is
installed, and the run says which were left out and how to include them."""

from __future__ import annotations

import importlib.util

NEEDS = {"test_ray.py": ("ray", "pip install -e '.[test]' (or '.[ray]')")}

collect_ignore = [name for name, (package, _) in NEEDS.items() if importlib.util.find_spec(package) is None]


def pytest_report_header(config) -> list[str]:
    return [f"not collected: {name} (needs {NEEDS[name][0]}: {NEEDS[name][1]})" for name in collect_ignore]


def pytest_terminal_summary(terminalreporter) -> None:
    for line in pytest_report_header(None):
        terminalreporter.write_line(line, yellow=True)
