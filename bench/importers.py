"""`slar import oncall|pagerduty|opsgenie --plan` against each vendor's big loopback account, then
`--apply` and a re-run.

Prints one JSON object per vendor: plan_s (the CLI's --plan: fetch, map and the 90-day comparison of
every schedule; goal < 30 s), apply_s, rerun_plan_s and rerun_changes (0). The accounts are the tests'
seeded ones (60 people, 12 schedules with overrides, 15 policies, 40 integrations; a 429 with
Retry-After mid-import). Each vendor gets a database of its own, created and dropped here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import own_database  # noqa: E402
from tests.loopback import oncall, opsgenie, opsgenie_org, pagerduty  # noqa: E402
from tests.loopback._http import LoopbackServer  # noqa: E402

SEED = 19
QUICK = {"people": 15, "schedules": 3}  # --quick: a quarter of each


def _oncall(now: datetime, quick: bool) -> tuple[dict, LoopbackServer, Callable[[LoopbackServer], list[str]]]:
    size = QUICK | {"chains": 4, "integrations": 10} if quick else {}
    org = oncall.generate(SEED, now=now, **size)
    server = oncall.OnCallServer(org, throttle_at=100)
    return org, server, lambda s: ["oncall", "--url", s.url, "--token", s.token]  # type: ignore[attr-defined]


def _pagerduty(
    now: datetime, quick: bool
) -> tuple[dict, LoopbackServer, Callable[[LoopbackServer], list[str]]]:
    size = QUICK | {"policies": 4, "services": 10}
    account = pagerduty.generate(SEED, now=now, **size) if quick else pagerduty.big(SEED, now=now)
    account["users"][0]["role"] = "admin"  # who creates the outgoing webhooks (--as)
    server = pagerduty.PagerDutyServer(account, throttle_at=60, limit=25)
    return account, server, lambda s: ["pagerduty", "--token", s.token, "--api-url", s.url]  # type: ignore[attr-defined]


def _opsgenie(
    now: datetime, quick: bool
) -> tuple[dict, LoopbackServer, Callable[[LoopbackServer], list[str]]]:
    size = QUICK | {"escalations": 4, "integrations": 10} if quick else {}
    account = opsgenie_org.generate(SEED, now=now, **size)
    server = opsgenie.OpsgenieServer(account, throttle_at=150)
    return account, server, lambda s: ["opsgenie", "--key", s.key, "--api-url", s.url]  # type: ignore[attr-defined]


VENDORS = {"oncall": _oncall, "pagerduty": _pagerduty, "opsgenie": _opsgenie}


def _admin(vendor: str, account: dict) -> str:
    if vendor == "oncall":
        return next(u["email"] for u in account["users"] if u["role"] == "admin")
    if vendor == "pagerduty":
        return account["users"][0]["email"]
    return next(u["username"] for u in account["users"] if u["role"]["name"] == "Admin")


def _run(env: dict[str, str], *args: str) -> tuple[float, str]:
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout


def bench(vendor: str, now: datetime, quick: bool) -> dict:
    account, server, credentials = VENDORS[vendor](now, quick)
    schedules = account["schedules"]
    integrations = account.get("integrations") or [i for s in account["services"] for i in s["integrations"]]
    with own_database() as url, server:
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        base = ["import", *credentials(server), "--json", "--as", _admin(vendor, account)]
        plan_s, out = _run(env, *base)
        apply_s, _ = _run(env, *base, "--apply")
        rerun_s, again = _run(env, *base)
    plan = json.loads(out)
    return {
        "vendor": vendor,
        "plan_s": round(plan_s, 2),
        "plan_changes": plan["changes"],
        "schedules_differing": sum("differ" in w for w in plan["warnings"]),
        "apply_s": round(apply_s, 2),
        "rerun_plan_s": round(rerun_s, 2),
        "rerun_changes": json.loads(again)["changes"],
        "quick": quick,
        "users": len(account["users"]),
        "schedules": len(schedules),
        "integrations": len(integrations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Smaller accounts (a quarter of each).")
    parser.add_argument("vendors", nargs="*", help=f"Some of {', '.join(VENDORS)} (default: all three).")
    args = parser.parse_args()
    unknown = set(args.vendors) - set(VENDORS)
    if unknown:
        parser.error(f"unknown vendor(s): {', '.join(sorted(unknown))}")
    now = datetime.now(UTC)
    for vendor in args.vendors or VENDORS:
        print(json.dumps(bench(vendor, now, args.quick)), flush=True)


if __name__ == "__main__":
    main()
