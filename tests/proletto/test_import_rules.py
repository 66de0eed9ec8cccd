"""The import rules of DESIGN.md and issue 19: the core (proletto/) imports no app, outreach
does not import digests, billing imports neither; each app adds to the core's machinery by
modules the core discovers (jobs.py, inbox.py, health.py)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "proletto": {"digests", "outreach", "billing"},
    "outreach": {"digests"},
    "billing": {"digests", "outreach"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_none_of_the_apps_above_it(package):
    breaches = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) & FORBIDDEN[package]
    }
    assert breaches == {}


def test_the_rule_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from digests.models import DigestEmail\n")
    assert "digests" in imported_packages(module)
