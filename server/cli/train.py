"""``fpe train``: start a training run: validated, queued for a worker (or run in-process when
no Redis is configured) and followed.

Examples::

    fpe train --league E0 --wait
    fpe train --type poisson --league E0 --league E1 --season 2324 --season 2425
    fpe train --type draw --league SP1 --date-from 2021-08-01 --xi 0.002 --wait --json
    fpe train --league E0 --activate never --wait  # stored as a candidate
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from server.cli.common import EXIT_DATA, run_async
from server.cli.options import add_command, add_dates, add_selection
from server.cli.values import (
    DEFAULT_L2,
    DEFAULT_XI,
    MODEL_TYPES,
    non_negative,
    positive_int,
)

__all__ = ["add_parser", "train"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    tr = add_command(commands, __name__, __doc__, handler=train)
    tr.add_argument(
        "--type",
        choices=MODEL_TYPES,
        default="full",
        help="the model: poisson (the engine's own forecast), blending (with the market), "
        "calibration, full (blend, then calibrate) or draw (default full)",
    )
    add_selection(tr)
    add_dates(tr, "to train and validate on")
    tr.add_argument(
        "--xi", type=non_negative, help=f"Dixon-Coles decay PER DAY (default {DEFAULT_XI})"
    )
    tr.add_argument(
        "--l2", type=non_negative, help=f"prior precision on team strengths (default {DEFAULT_L2})"
    )
    tr.add_argument(
        "--refit-days", type=positive_int, help="walk-forward refit interval in days (default 7)"
    )
    tr.add_argument(
        "--validation-share",
        type=non_negative,
        help="the last share of the matches, held out to validate (0.05-0.5, default 0.2)",
    )
    tr.add_argument(
        "--activate",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto (default): the new version goes live when no model of its type and leagues "
        "is active, or when it is not worse than the active one on their common validation "
        "matches (paired RPS, 2 standard errors), else it stays a candidate; always; never",
    )
    tr.add_argument("--wait", action="store_true", help="follow the run to its end")
    tr.add_argument(
        "--json", action="store_true", help="print the finished run as JSON (when followed)"
    )


def train(args: argparse.Namespace) -> int:
    from server.base.config import Settings
    from server.cli.terminal import ProgressBar
    from server.runs import training
    from server.runs.serialize import json_ready
    from server.runs.services import follow_run, start_training

    settings = Settings.from_env()
    hyper = {
        k: v
        for k, v in (
            ("xi", args.xi),
            ("l2", args.l2),
            ("refit_days", args.refit_days),
            ("validation_share", args.validation_share),
        )
        if v is not None
    }
    request = {
        "model_type": args.type,
        "leagues": args.league,
        "seasons": args.season or [],
        "date_from": args.date_from,
        "date_to": args.date_to,
        "hyperparameters": hyper,
        "activate": args.activate,
    }

    async def work(services: Any) -> int:
        run = await start_training(services, request)
        task_id = run["task_id"]
        print(f"run {task_id} queued: {run['match_count']} matches selected", file=sys.stderr)
        if not (args.wait or services.in_process):
            print(task_id)
            return 0
        bar = ProgressBar(args.type)
        final: dict[str, Any] = {}
        async for _, event in follow_run(services, task_id):
            if event.get("progress") is not None:
                bar.update(float(event["progress"]) / 100, event.get("message") or "")
            final = event
        bar.close()
        run = await training.get_run(services.engine, task_id)
        if args.json:
            print(json.dumps(json_ready(run), indent=2))
        else:
            print(_describe_run(run))
        return 0 if final.get("status") == "completed" else EXIT_DATA

    return run_async(settings, work)


def _describe_run(run: dict[str, Any]) -> str:
    lines = [
        f"run {run['task_id']}: {run['status']} ({run['run_type']}, {run['match_count']} matches "
        "selected)"
    ]
    if run["status"] == "completed":
        m = run["metrics"]
        lines.append(run["message"] or f"model {run['model_version']}")
        lines.append(f"validation from {m.get('validation_start')}: {m['n']} matches validated")
        lines.append(f"{'':<8}{'RPS':>9}{'log loss':>10}{'Brier':>9}{'accuracy':>10}")
        lines.append(
            f"{'model':<8}{m['rps']:>9.5f}{m['log_loss']:>10.5f}{m['brier']:>9.5f}"
            f"{m['accuracy']:>10.4f}"
        )
        if m.get("market"):
            k = m["market"]
            source = f", pre-match {m['market_source']}" if m.get("market_source") else ""
            lines.append(
                f"{'market':<8}{k['rps']:>9.5f}{k['log_loss']:>10.5f}"
                f"{k['brier']:>9.5f}{k['accuracy']:>10.4f}   (on {k['n']} priced{source})"
            )
            c = m["comparison"]
            lines.append(
                f"RPS model - market on the priced matches: {c['rps_diff']:+.5f} "
                f"(SE {c['rps_diff_se']:.5f}); goals RMSE {m['rmse_goals']:.3f}"
            )
        if m.get("draw"):
            lines.extend(_describe_draws(m["draw"]))
            if m.get("ceiling"):
                from core.evaluation import format_ceiling

                lines.append(format_ceiling(m["ceiling"], "model"))
        lines.extend(f"  {line}" for line in run["logs"] or [])
    elif run["error_message"]:
        lines.append(f"error: {run['error_message']}")
    return "\n".join(lines)


def _describe_draws(d: dict[str, Any]) -> list[str]:
    """The draw block of a draw model's metrics: calibration and accuracy per forecast."""
    lines = [
        f"draws{'':<10}{'predicted':>10}{'observed':>9}{'Brier':>9}{'log loss':>10}"
        f"{'cal err':>9}{'draw acc':>9}"
    ]
    names = (
        ("model", "model"),
        ("model_without_odds", "model, no odds"),
        ("dixon_coles", "Dixon-Coles"),
        ("poisson", "Poisson"),
        ("model_priced", "model*"),
        ("market", "market*"),
    )
    for key, label in names:
        if not d.get(key):
            continue
        b = d[key]
        acc = b.get("draw_accuracy")
        lines.append(
            f"{label:<15}{b['mean_predicted']:>10.4f}{b['observed_rate']:>9.4f}"
            f"{b['brier']:>9.5f}{b['log_loss']:>10.5f}{b['calibration_error']:>9.4f}"
            f"{'-' if acc is None else f'{acc:.4f}':>9}"
        )
    c = d["vs_dixon_coles"]
    lines.append(
        f"* on the {d['n_with_pre_match_odds']} matches with pre-match odds; RPS model - "
        f"Dixon-Coles: {c['rps_diff']:+.5f} (SE {c['rps_diff_se']:.5f})"
    )
    return lines
