"""The distributed test's figures, printed in pytest's summary (the README's scaling guide quotes them)."""

from __future__ import annotations

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if FIGURES:
        terminalreporter.section("distributed stack: measured")
        for line in FIGURES:
            terminalreporter.write_line(line)
