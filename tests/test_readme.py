"""The README's coverage table is generated, not typed: it must match the code."""

from __future__ import annotations

from pathlib import Path

from fakekms.coverage import BEGIN, END, coverage_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_coverage_table_is_current():
    text = README.read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == coverage_table(), "run `fakekms coverage` and paste its output into README.md"


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    setup = text.split("## Set-up", 1)[1][:400]
    assert "make serve" in setup and "make test" in setup
