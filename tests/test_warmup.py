"""The console process imports what the pages need in the background, before the first visit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from app.embedded import child_env, free_port
from app.supervisor import PROCESSES
from app.warmup import WARM_DONE, page_imports
from tests.infra import ROOT, process, wait_http

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


def test_the_console_process_warms_its_pages_modules_once_it_runs(output_dir: Path) -> None:
    port = free_port()
    log = output_dir / "warmup-console.log"
    log.unlink(missing_ok=True)
    with process(PROCESSES["console"].argv("127.0.0.1", port), child_env({}), log):
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=60)
        deadline = time.monotonic() + 120
        while WARM_DONE not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
    line = next(x for x in log.read_text(errors="replace").splitlines() if WARM_DONE in x)
    assert ", 0 failed)" in line and "slar.console.warmup" in line
