"""The console process imports what the pages need in the background, before the first visit."""

from __future__ import annotations

import json
import subprocess
import sys

from app.supervisor import PROCESSES
from app.warmup import page_imports
from tests.infra import ROOT

HEAVY = ("analytics.metrics", "agent.api_support")  # DuckDB/Polars and AutoGen behind them


def test_the_pages_own_imports_are_the_list() -> None:
    imports = page_imports()
    assert ("analytics", ("charts", "metrics")) in imports  # as pages/analytics.py writes it
    assert ("agent", ("api_support",)) in imports  # `from agent import api_support as support`
    modules = [module for module, _ in imports]
    assert "__future__" not in modules and len(imports) == len(set(imports))


def test_a_fresh_process_has_the_heavy_modules_after_the_warm_up_and_not_before() -> None:
    script = f"""
import json, sys
from app.warmup import page_imports, warm, warm_in_background
heavy = {list(HEAVY)!r}
before = [m for m in heavy if m in sys.modules]
thread = warm_in_background()
thread.join(timeout=300)
print(json.dumps({{"before": before, "after": [m for m in heavy if m in sys.modules],
                   "alive": thread.is_alive(), "daemon": thread.daemon, "failed": warm(page_imports())}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=360, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == []
    assert seen["after"] == list(HEAVY)
    assert not seen["alive"] and seen["daemon"]  # never keeps a stopping console alive
    assert seen["failed"] == []  # every page import resolves: none is silently skipped


def test_the_console_process_runs_streamlit_through_the_warm_up() -> None:
    argv = PROCESSES["console"].argv("127.0.0.1", 8501)
    assert argv[1].endswith("app/console_process.py") and argv[2:4] == ["run", str(ROOT / "app" / "web.py")]
