"""The layout is a contract: import direction (import-linter) and module sizes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "tasks", "audio", "features", "outputs")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_imports_run_flows_tasks_libraries_and_no_prefect_below_tasks():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_inside_a_function_breaks_the_contract(tmp_path):
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / "features" / "stats.py", "a") as f:
        f.write("\n\ndef sneaky():\n    import prefect\n    from tasks import publish\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "features is not allowed to import tasks" in result.stdout
    assert "features is not allowed to import prefect" in result.stdout
    assert "features.stats -> prefect" in result.stdout and "features.stats -> tasks.publish" in result.stdout


def test_no_module_over_400_lines_and_a_short_cli():
    sizes = {p.relative_to(REPO): len(p.read_text().splitlines())
             for name in PACKAGES for p in (REPO / name).rglob("*.py")}
    assert not {p: n for p, n in sizes.items() if n > 400}
    assert sizes[Path("flows/cli.py")] < 250
