"""Clause classifier: accuracy (CLAUDETTE 5-fold document CV, ToS;DR by service) and speed.

Accuracy comes from ``clausewatch.classify.evaluate`` (each CLAUDETTE fold is tuned inside its
training documents only). It takes ~10 min for CLAUDETTE and ~20 min for ToS;DR on 2 cores, so
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
BASELINES = [  # classification-notes.md, same folds, measured by the project on 2 cores
    (
        "previous shipped pipeline (no heading words; Platt threshold tuned on out-of-fold "
        "scores; measured 2026-11-29)",
        "67.5",
        "94.7 / 70.8",
    ),
    ("TF-IDF 1–2g + LinearSVC C=0.5, balanced (notes)", "68.8", "95.3 / 72.0"),
    ("TF-IDF + frozen MiniLM concatenated (notes)", "69.1", "95.4 / 72.3"),
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


def claudette_table(res: dict[str, Any]) -> str:
    rows = [
        "| model | macro-F1 (8 types) | LexGLUE-style μ-F1 / m-F1 (8 + none) |",
        "|---|---|---|",
        f"| **clausewatch, shipped pipeline** (TF-IDF word+char + heading words, LinearSVC at "
        f"margin ≥ 0; C and Platt fitted in training folds) | "
        f"**{_pct(res['macro_f1_8'])}** (fold mean {_pct(res['macro_f1_8_fold_mean'])} "
        f"± {_pct(res['macro_f1_8_fold_std'])}) | **{_pct(res['micro_f1'])} / "
        f"{_pct(res['macro_f1_with_none'])}** |",
    ]
    if "ablation_no_heading" in res:
        ab = res["ablation_no_heading"]
        rows.append(
            f"| ablation: same models, no heading given (text only) | {_pct(ab['macro_f1_8'])} | "
            f"{_pct(ab['micro_f1'])} / {_pct(ab['macro_f1_with_none'])} |"
        )
    rows += [f"| {name} | {m} | {lex} |" for name, m, lex in BASELINES]
    rows += ["", "| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for tag, v in res["per_class"].items():
        rows.append(
            f"| {tag} | {_pct(v['p'])} | {_pct(v['r'])} | {_pct(v['f1'])} | {v['support']} |"
        )
    return "\n".join(rows)


def tosdr_table(res: dict[str, Any]) -> str:
    rows = [
        f"{res['points']} points of {res['services']} services, 5 folds grouped by service: "
        f"**type accuracy {_pct(res['type_accuracy'])}** (top-scoring type is one of the point's "
        f"mapped types), **macro-F1 {_pct(res['macro_f1_mapped'])}** over "
        f"{len(res['per_type'])} mapped types.",
        "",
        "| type | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for t, v in sorted(res["per_type"].items(), key=lambda kv: -kv[1]["support"]):
        rows.append(f"| {t} | {_pct(v['p'])} | {_pct(v['r'])} | {_pct(v['f1'])} | {v['support']} |")
    return "\n".join(rows)


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
            result = {"claudette": evaluate.claudette_cv(), "tosdr": evaluate.tosdr_cv()}
        cmd = "`.venv/bin/python -m clausewatch.classify.evaluate`"
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
