"""Runbook retrieval benchmark: index the sample runbooks, ask the labelled questions (37), report recall@3.

Prints one JSON object: recall_at_3, index_s, query_p50_ms (plus counts). --quick asks 10 questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.embeddings import LocalEmbeddingFunction  # noqa: E402
from agent.runbooks import RunbookIndex  # noqa: E402

SAMPLES = ROOT / "agent" / "sample_runbooks"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="ask only the first 10 questions")
    args = parser.parse_args()
    questions = json.loads((SAMPLES / "questions.json").read_text())
    if args.quick:
        questions = questions[:10]
    with tempfile.TemporaryDirectory() as tmp:
        index = RunbookIndex(Path(tmp) / "chroma", ef=LocalEmbeddingFunction())
        started = time.perf_counter()
        stats = index.index_directory(SAMPLES, "sample")
        index_s = time.perf_counter() - started
        index.retrieve("warm up", k=3)
        hits, times = 0, []
        for q in questions:
            t0 = time.perf_counter()
            found = index.retrieve(q["question"], k=3)
            times.append((time.perf_counter() - t0) * 1000)
            hits += q["expected"] in {h.path for h in found}
    print(
        json.dumps(
            {
                "recall_at_3": round(hits / len(questions), 3),
                "index_s": round(index_s, 3),
                "query_p50_ms": round(statistics.median(times), 2),
                "questions": len(questions),
                "files": len(stats.added),
                "chunks": stats.chunks,
            }
        )
    )


if __name__ == "__main__":
    main()
