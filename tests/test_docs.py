"""The README stays short and agrees with what it quotes: CI's test command, the generated results."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_readme_is_short():
    assert len(readme().encode()) <= 10 * 1024


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    command = ci.split("&& ", 1)[1]  # after `cd "$(dirname "$0")/.."`
    assert command in readme()


def test_readme_results_tables_are_the_generated_ones():
    summary = (ROOT / "docs" / "results" / "summary.md").read_text()
    tables = re.findall(r"(?m)^\|.*\|\n(?:^\|.*\|\n?)+", readme())
    assert len(tables) >= 2
    for t in tables:
        assert t.strip() in summary, f"README table not in docs/results/summary.md (rerun cmvc bench):\n{t}"


def test_doc_links_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "reference" / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text()):
            if not re.match(r"[a-z]+:", target):
                assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
