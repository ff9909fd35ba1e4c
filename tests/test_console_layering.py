"""Layering: pages hold no SQL, app/ never reaches into the edges, every page is registered."""

from __future__ import annotations

import ast
from pathlib import Path

from app.widgets import PAGES, PAGES_DIR
from tests.infra import ROOT


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_app_never_imports_the_edges() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"ingest", "workers", "agent"})
        for p in (ROOT / "app").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pages_hold_no_sql() -> None:
    offenders = {
        p.name: sorted(_imports(p) & {"sqlalchemy", "psycopg", "duckdb"}) for p in PAGES_DIR.glob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_page_file_is_registered_in_the_navigation() -> None:
    registered = {p.file for p in PAGES}
    on_disk = {p.name for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_")}
    assert on_disk - registered == set(), "add the page to app.widgets.PAGES"
    assert len(registered) == len(PAGES), "a page is registered twice"
