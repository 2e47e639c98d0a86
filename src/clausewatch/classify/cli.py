"""`clausewatch model …`: train and evaluate the clause classifier (library: train, evaluate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

model_app = typer.Typer(help="The clause classifier's model.", no_args_is_help=True)

EVALS = ("gold", "claudette", "tosdr", "opp115")


@model_app.command("train")
def model_train(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Artifact folder.")] = None,
    jobs: Annotated[int, typer.Option(help="Folds fitted in parallel.")] = 2,
) -> None:
    """Retrain the shipped classifier from gold/ and ../shared/data (CLAUDETTE, ToS;DR)."""
    from clausewatch.classify.train import main as train_main

    train_main([*(["--out", str(out_dir)] if out_dir else []), "--jobs", str(jobs)])


@model_app.command("eval")
def model_eval(
    only: Annotated[str | None, typer.Option(help="gold, claudette, tosdr or opp115")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    jobs: Annotated[int, typer.Option(help="Folds fitted in parallel.")] = 2,
) -> None:
    """Cross-validate the pipeline: the gold set (platform-grouped folds), CLAUDETTE authors'
    folds, ToS;DR grouped by service, and print the figures side by side. `--only opp115`: the
    shipped model's transfer to OPP-115's test split (evaluation only)."""
    from clausewatch.cli import fail

    if only is not None and only not in EVALS:
        raise fail(f"--only must be one of {', '.join(EVALS)}, got {only!r}")
    if only == "opp115":
        from clausewatch.classify.transfer import main as transfer_main

        transfer_main(["--json", str(json_out)] if json_out else [])
        return
    from clausewatch.classify import evaluate

    result: dict[str, Any] = {}
    if only in (None, "gold"):
        result["gold"] = evaluate.gold_cv(n_jobs=jobs)
    if only in (None, "claudette"):
        result["claudette"] = evaluate.claudette_cv(n_jobs=jobs)
    if only in (None, "tosdr"):
        result["tosdr"] = evaluate.tosdr_cv(n_jobs=jobs)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    typer.echo(evaluate.summary(result))
