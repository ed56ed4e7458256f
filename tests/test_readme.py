"""The README's coverage table is generated, not typed: it must match the code."""

from __future__ import annotations

import shutil
from pathlib import Path

from fakekms.coverage import BEGIN, END, coverage_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_coverage_table_is_current():
    text = README.read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == coverage_table(), "run `fakekms coverage` and paste its output into README.md"


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    setup = text.split("## Set-up", 1)[1][:400]
    assert "make serve" in setup and "make test" in setup


def _python_blocks(section: str) -> list[str]:
    text = README.read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_the_plugin_examples_pass_as_written(pytester):
    """Each fixture's example in the README, run as the test file it is."""
    examples = [b for b in _python_blocks("In pytest") if "def test_" in b]
    assert len(examples) == 7
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    (pytester.path / "tests").mkdir()
    for n, example in enumerate(examples):
        (pytester.path / "tests" / f"test_example_{n}.py").write_text(example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests", timeout=120)
    result.assert_outcomes(passed=9)


def test_the_access_control_example_passes_as_written(pytester):
    (example,) = [b for b in _python_blocks("Access control") if "def test_" in b]
    pytester.makepyfile(test_access=example)
    for mode in ("server", "in-process"):
        pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--fakekms-mode={mode}",
                                      timeout=120).assert_outcomes(passed=1)


def test_the_control_example_runs(monkeypatch):
    (example,) = [b for b in _python_blocks("In pytest") if "start_server" in b]
    monkeypatch.chdir(ROOT)
    exec(compile(example, "README.md", "exec"), {})
