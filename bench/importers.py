"""`slar import oncall --plan` against the big loopback OnCall organisation, and `--apply` then a re-run.

Prints one JSON object: plan_s (the CLI's --plan, fetch + map + 90-day comparison of every schedule:
goal < 30 s), apply_s, rerun_plan_s and rerun_changes (0). The organisation is the tests' seeded one
(60 people, 12 schedules with overrides, 15 chains, 40 integrations; a 429 mid-import). Creates and
drops its own database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import own_database  # noqa: E402
from tests.loopback import oncall  # noqa: E402

SEED = 19


def _run(env: dict[str, str], *args: str) -> tuple[float, str]:
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A smaller organisation (a quarter of each).")
    args = parser.parse_args()
    now = datetime.now(UTC)
    size = {"people": 15, "schedules": 3, "chains": 4, "integrations": 10} if args.quick else {}
    org = oncall.generate(SEED, now=now, **size)
    with own_database() as url, oncall.OnCallServer(org) as server:
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        base = ["import", "oncall", "--url", server.url, "--token", server.token, "--json"]
        plan_s, out = _run(env, *base)
        apply_s, _ = _run(env, *base, "--apply")
        rerun_s, again = _run(env, *base)
    print(
        json.dumps(
            {
                "plan_s": round(plan_s, 2),
                "plan_changes": json.loads(out)["changes"],
                "apply_s": round(apply_s, 2),
                "rerun_plan_s": round(rerun_s, 2),
                "rerun_changes": json.loads(again)["changes"],
                "quick": args.quick,
                **{k: len(v) for k, v in org.items() if k in ("users", "schedules", "integrations")},
            }
        )
    )


if __name__ == "__main__":
    main()
