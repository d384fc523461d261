"""``fpe models show VERSION`` and ``fpe models compare A B``: one version in detail, two
side by side (:mod:`server.runs.compare`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parsers", "compare", "describe_model", "describe_pair", "show"]

OUTCOMES = ("home", "draw", "away")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """``show`` and ``compare`` under ``fpe models``."""
    show_parser = sub.add_parser(
        "show",
        help="one version: data and validation windows, hyperparameters, metrics overall "
        "and per league, calibration with bin counts, its run's logs",
    )
    show_parser.add_argument("version", help="the model version")
    show_parser.add_argument("--json", action="store_true", help="print it as JSON")
    show_parser.set_defaults(handler=show)
    compare_parser = sub.add_parser(
        "compare",
        help="B against A: paired scores on common validation matches, overall and per "
        "league; calibration with bin counts; hyperparameters; data windows",
    )
    compare_parser.add_argument("a", metavar="A", help="the first version (the reference)")
    compare_parser.add_argument("b", metavar="B", help="the second version")
    compare_parser.add_argument("--json", action="store_true", help="print it as JSON")
    compare_parser.set_defaults(handler=compare)


def _run(fetch: Any, as_json: bool, describe: Any) -> int:
    from server.base.config import Settings
    from server.cli.common import run_async
    from server.runs.serialize import json_ready

    async def work(services: Any) -> int:
        result = json_ready(await fetch(services.engine))
        print(json.dumps(result, indent=2) if as_json else describe(result))
        return 0

    return run_async(Settings.from_env(), work)


def show(args: argparse.Namespace) -> int:
    from server.runs.compare import model_detail

    return _run(lambda engine: model_detail(engine, args.version), args.json, describe_model)


def compare(args: argparse.Namespace) -> int:
    from server.runs.compare import compare_models

    return _run(lambda engine: compare_models(engine, args.a, args.b), args.json, describe_pair)


def _num(value: Any, digits: int = 5) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _status(m: dict[str, Any]) -> str:
    return "candidate" if m["status"] == "completed" else m["status"]


def _calibration(curves: dict[str, list[dict[str, Any]]] | None, indent: str = "  ") -> list[str]:
    if not curves:
        return [f"{indent}(no held-out forecasts stored)"]
    lines = []
    for outcome in OUTCOMES:
        bins = " ".join(
            f"{b['predicted']:.2f}/{b['observed']:.2f}({b['count']})" for b in curves[outcome]
        )
        lines.append(f"{indent}{outcome:<5} {bins}")
    return lines


def describe_model(m: dict[str, Any]) -> str:
    hyper = ", ".join(f"{k} {v}" for k, v in sorted(m["hyperparameters"].items()))
    s = m["metrics"]
    lines = [
        f"{m['version']} ({m['model_type']}, {_status(m)}), leagues "
        f"{','.join(m['training_leagues'] or [])}, seasons {','.join(m['training_seasons'] or [])}",
        f"fitted on {m['training_matches']} matches from {m['data_from']} to {m['data_to']}",
        f"validated on {m['validation_matches']} held-out matches from {m['validation_from']} "
        f"to {m['validation_to']}: RPS {_num(s['rps'])}, log loss {_num(s['log_loss'])}, "
        f"Brier {_num(s['brier_score'])}, accuracy {_num(s['overall_accuracy'], 4)}",
        f"hyperparameters: {hyper or '-'}",
        f"per league{'':<3}{'n':>6}{'RPS':>9}{'log loss':>10}{'Brier':>9}{'accuracy':>10}",
    ]
    for league, x in m["per_league"].items():
        lines.append(
            f"  {league:<11}{x['n']:>6}{_num(x['rps']):>9}{_num(x['log_loss']):>10}"
            f"{_num(x['brier']):>9}{_num(x['accuracy'], 4):>10}"
        )
    lines.append("calibration (held-out; equal-count bins: predicted/observed(count)):")
    lines.extend(_calibration(m["calibration"]))
    lines.append("logs:")
    lines.extend(f"  {line}" for line in m["logs"])
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if not isinstance(value, list):
        return str(value)
    if len(value) > 4:
        return f"{value[0]}..{value[-1]} ({len(value)})"
    return ",".join(map(str, value))


def describe_pair(c: dict[str, Any]) -> str:
    a, b = c["a"], c["b"]
    lines = [f"{'':<20}{'A':<40}B"]
    for label, key in (("version", "version"), ("type", "model_type")):
        lines.append(f"{label:<20}{a[key]:<40}{b[key]}")
    lines.append(f"{'status':<20}{_status(a):<40}{_status(b)}")
    for key, w in c["windows"].items():
        mark = "" if w["same"] else " *"
        va, vb = _cell(w["a"]), _cell(w["b"])
        lines.append(f"{key:<20}{va!s:<40}{vb}{mark}")
    for key, h in c["hyperparameters"].items():
        mark = "" if h["same"] else " *"
        lines.append(f"{key:<20}{h['a']!s:<40}{h['b']}{mark}")
    paired = c["paired"]
    overall = paired["overall"]
    lines.append(c["note"])
    if overall is not None:
        lines.append(
            f"{'':<12}{'n':>6}{'RPS A':>10}{'RPS B':>10}{'B - A':>10}{'SE':>9}"
            f"{'log loss A':>12}{'log loss B':>12}"
        )
        for name, x in [("overall", overall), *paired["leagues"].items()]:
            lines.append(
                f"{name:<12}{x['n']:>6}{_num(x['a']['rps']):>10}{_num(x['b']['rps']):>10}"
                f"{x['rps_diff']:>+10.5f}{_num(x['rps_diff_se']):>9}"
                f"{_num(x['a']['log_loss']):>12}{_num(x['b']['log_loss']):>12}"
            )
        lines.append("calibration on the common matches (predicted/observed(count)):")
        for side in ("a", "b"):
            lines.append(f"  {side.upper()}:")
            lines.extend(_calibration(c["calibration"][side], "    "))
    return "\n".join(lines)
