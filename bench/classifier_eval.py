"""Clause classifier: accuracy (gold set, CLAUDETTE authors' folds, ToS;DR by service) and speed.

Accuracy comes from ``clausewatch.classify.evaluate`` (the shipped pipeline refitted per fold).
It takes about 25 minutes on 2 cores, so
``--eval-json`` can reuse a result written by ``python -m clausewatch.classify.evaluate --json``.
Throughput: the shipped artifact on CLAUDETTE text, as single sentences and as 3-sentence
provisions, in batches (``classify_many``) and one call per provision (``classify``).

Usage: .venv/bin/python bench/classifier_eval.py [--eval-json PATH] [--skip-eval] [--write]
(--write replaces the tables in docs/classification.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ROOT, SHARED_DATA, write_section

from clausewatch.classify import evaluate
from clausewatch.classify.model import ARRAYS_FILE, ARTIFACT_DIR, META_FILE, ClauseClassifier

DOC = ROOT / "docs" / "classification.md"
BENCH_CMD = ".venv/bin/python bench/classifier_eval.py"
BASELINES = [  # classification-notes.md and earlier docs, same CLAUDETTE folds, 2 cores
    ("previous shipped pipeline, special evaluation model per tag (2026-11-29)", "72.6"),
    ("TF-IDF 1–2g + LinearSVC C=0.5, balanced (notes)", "72.0"),
    ("TF-IDF + frozen MiniLM concatenated (notes)", "72.3"),
]


def corpus() -> list[str]:
    lines: list[str] = []
    for path in sorted((SHARED_DATA / "claudette" / "sentences").glob("*.txt")):
        lines += [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def throughput() -> dict[str, Any]:
    started = time.perf_counter()
    clf = ClauseClassifier()
    load_s = time.perf_counter() - started
    sentences = corpus()
    provisions = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
    out: dict[str, Any] = {"load_s": load_s, "sentences": len(sentences)}
    for name, texts in (("sentence", sentences), ("provision", provisions)):
        t0 = time.perf_counter()
        for i in range(0, len(texts), 256):
            clf.classify_many(texts[i : i + 256])
        out[f"{name}_batch_per_s"] = len(texts) / (time.perf_counter() - t0)
        sample = texts[:2000]
        t0 = time.perf_counter()
        for text in sample:
            clf.classify_many([text])
        out[f"{name}_single_per_s"] = len(sample) / (time.perf_counter() - t0)
    out["provision_words"] = sum(len(p.split()) for p in provisions) / len(provisions)
    size = (ARTIFACT_DIR / ARRAYS_FILE).stat().st_size + (ARTIFACT_DIR / META_FILE).stat().st_size
    out["artifact_mb"] = size / 1e6
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def gold_table(res: dict[str, Any]) -> str:
    rows = [
        f"{res['provisions']} gold provisions, 5 folds grouped by platform family, decision "
        "thresholds cross-fitted (tuned on the other folds' out-of-fold candidates).",
        "",
        "| figure | all | random sample only | labels not marked unsure | target |",
        "|---|---|---|---|---|",
    ]
    targets = {
        "main_accuracy": "≥ 0.85", "shown_precision": "≥ 0.90", "shown_recall": "≥ 0.75",
        "high_precision": "≥ 0.90", "carry_no_type": "≤ 0.10", "negated_high": "0",
        "high_shown": "", "severity_accuracy": "",
    }  # fmt: skip
    for key, target in targets.items():
        vals = [res[key], res["random_sample"][key], res["sure_only"][key]]
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in vals]
        rows.append(f"| {key} | {' | '.join(cells)} | {target} |")
    rows += ["", "| type | precision | recall | shown | gold |", "|---|---|---|---|---|"]
    for t, v in sorted(res["per_type"].items(), key=lambda kv: -kv[1]["support"]):
        rows.append(
            f"| {t} | {_pct(v['p'])} | {_pct(v['r'])} | {v['predicted']} | {v['support']} |"
        )
    return "\n".join(rows)


def claudette_table(res: dict[str, Any]) -> str:
    rows = [
        "| model | LexGLUE-style m-F1 (8 + none) | μ-F1 |",
        "|---|---|---|",
        f"| **clausewatch, shipped pipeline** (a mapped type shown at Medium or High = unfair) | "
        f"**{_pct(res['macro_f1_with_none'])}** | {_pct(res['micro_f1'])} |",
    ]
    rows += [f"| {name} | {m} | |" for name, m in BASELINES]
    rows += ["", "| tag | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for tag, v in res["per_class"].items():
        rows.append(
            f"| {tag} | {_pct(v['p'])} | {_pct(v['r'])} | {_pct(v['f1'])} | {v['support']} |"
        )
    return "\n".join(rows)


def tosdr_table(res: dict[str, Any]) -> str:
    return (
        f"{res['points']} quotes of {res['services']} services, 5 folds grouped by service: "
        f"**type accuracy {_pct(res['type_accuracy'])}** (the top candidate is one of the "
        f"quote's mapped types); the policy shows {res['shown']:.2f} types per quote at "
        f"precision {_pct(res['shown_precision'])}."
    )


def speed_table(res: dict[str, Any]) -> str:
    return "\n".join([
        "| input | batched (256) /s | one call each /s |",
        "|---|---|---|",
        f"| sentence | {res['sentence_batch_per_s']:,.0f} | {res['sentence_single_per_s']:,.0f} |",
        f"| provision (3 sentences, {res['provision_words']:.0f} words avg) | "
        f"{res['provision_batch_per_s']:,.0f} | {res['provision_single_per_s']:,.0f} |",
        "",
        f"Artifact {res['artifact_mb']:.2f} MB, loaded in {res['load_s']:.2f} s.",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--eval-json", type=Path, help="reuse `evaluate --json` output")
    parser.add_argument("--skip-eval", action="store_true", help="throughput only")
    parser.add_argument("--write", action="store_true", help="write into docs/classification.md")
    args = parser.parse_args()
    py = platform.python_version()
    stamp = f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} (Python {py})"
    speed = throughput()
    print(json.dumps(speed, indent=2))
    sections = {"classifier-speed": f"{stamp}, `{BENCH_CMD}`:\n\n{speed_table(speed)}"}
    if not args.skip_eval:
        if args.eval_json:
            result = json.loads(args.eval_json.read_text(encoding="utf-8"))
        else:
            result = {
                "gold": evaluate.gold_cv(),
                "claudette": evaluate.claudette_cv(),
                "tosdr": evaluate.tosdr_cv(),
            }
        cmd = "`.venv/bin/python -m clausewatch.classify.evaluate`"
        if "gold" in result:
            sections["classifier-gold"] = f"{stamp}, {cmd}:\n\n{gold_table(result['gold'])}"
        if "claudette" in result:
            sections["classifier-claudette"] = (
                f"{stamp}, {cmd}:\n\n{claudette_table(result['claudette'])}"
            )
        if "tosdr" in result:
            sections["classifier-tosdr"] = f"{stamp}, {cmd}:\n\n{tosdr_table(result['tosdr'])}"
    for name, body in sections.items():
        print(body, "\n")
        if args.write:
            write_section(name, body, DOC)


if __name__ == "__main__":
    main()
