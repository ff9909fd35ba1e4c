"""The analyst notebooks run top to bottom on seeded demo data after a real export, with no edits."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from analytics.export import export
from tests import analytics_history, infra

NOTEBOOKS = sorted((infra.ROOT / "notebooks").glob("*.ipynb"))


def _seed(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        if importlib.util.find_spec("app.seed") is not None:
            from app.seed import seed_demo

            seed_demo(seed=7, days=14, sessions=sessionmaker(bind=engine, expire_on_commit=False))
        else:
            with Session(engine) as session:
                analytics_history.build(session)
                session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    url = infra.create_database()
    try:
        _seed(url)
        data_dir = tmp_path_factory.mktemp("notebook-data")
        report = export(database_url=url, data_dir=data_dir)
        assert report.rows["incidents"] > 0
        yield data_dir
    finally:
        infra.drop_database(url)


def test_the_three_notebooks_exist_without_outputs() -> None:
    assert [p.name for p in NOTEBOOKS] == ["mtta_mttr.ipynb", "noisy_alerts.ipynb", "oncall_health.ipynb"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert all(
            not c.get("outputs") and not c.get("execution_count") for c in book.cells if c.cell_type == "code"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment: it reads the same DATA_DIR `slar export` wrote.
    monkeypatch.setenv("SLAR_DATA_DIR", str(exported))
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(infra.ROOT)}}
    )
    client.execute()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # Every table and chart cell rendered something.
    shown = [o for o in outputs if o.output_type in ("execute_result", "display_data")]
    assert len(shown) >= 4
