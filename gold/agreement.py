"""Inter-annotator agreement on the doubly labelled 10 % of each random draw (gold/double.jsonl,
double-2.jsonl … double-5.jsonl for the first to the fifth) against the first
pass.

.venv/bin/python gold/agreement.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent


def kappa(a: list[str], b: list[str]) -> float:
    """Cohen's κ of two label sequences."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def norm(main: str | None) -> str:
    return main or "null"


def carries(main: str | None) -> str:
    return "clause" if main not in (None, "boilerplate") else "none"


def agreement(first: dict[str, dict], second: list[dict]) -> dict[str, float | int]:
    pairs = [(first[s["id"]], s) for s in second if s["id"] in first]
    a = [norm(f["main"]) for f, _ in pairs]
    b = [norm(s["main"]) for _, s in pairs]
    same_main = [(f, s) for f, s in pairs if f["main"] == s["main"] and f["severity"]]
    either_sets = [
        ({f["main"], *f["other"]} - {None}, {s["main"], *s["other"]} - {None}) for f, s in pairs
    ]
    return {
        "provisions": len(pairs),
        "main_raw": sum(x == y for x, y in zip(a, b, strict=True)) / len(pairs),
        "main_kappa": kappa(a, b),
        "main_in_other_set": sum(
            norm(f["main"]) == norm(s["main"]) or f["main"] in sb or s["main"] in sa
            for (f, s), (sa, sb) in zip(pairs, either_sets, strict=True)
        )
        / len(pairs),
        "carries_kappa": kappa(
            [carries(f["main"]) for f, _ in pairs], [carries(s["main"]) for _, s in pairs]
        ),
        "severity_raw_same_main": (
            sum(f["severity"] == s["severity"] for f, s in same_main) / len(same_main)
            if same_main
            else 0.0
        ),
        "severity_pairs": len(same_main),
        "negated_raw": sum(f["negated"] == s["negated"] for f, s in pairs) / len(pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    first = {}
    for path in sorted((HERE / "labels").glob("batch-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            first[row["id"]] = row
    rounds = {}
    for name in ["double.jsonl"] + [f"double-{n}.jsonl" for n in range(2, 6)]:
        path = HERE / name
        if path.exists():
            rounds[name] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    result = {name: agreement(first, second) for name, second in rounds.items()}
    result["all"] = agreement(first, [s for second in rounds.values() for s in second])
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
