"""``moderncnn models``: the zoo as a table (or JSON)."""

from __future__ import annotations

import argparse

from moderncnn.cli.output import print_json, print_table
from moderncnn.models import list_models, model_info
from moderncnn.models.registry import count_params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the model zoo with parameter counts",
        description="List registered models: family, year, depth, "
        "parameters, input size, torchvision match and the paper's error.",
    )
    p.add_argument("pattern", nargs="?", help="fnmatch filter, e.g. 'resnet*'")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in list_models(args.pattern):
        info = model_info(name)
        err = info.reported_error or {}
        rows.append(
            {
                "name": name,
                "family": info.family,
                "year": info.year,
                "depth": info.depth,
                "params": count_params(name),
                "input": list(info.input_size),
                "torchvision": info.torchvision,
                "top1_error": err.get("top1"),
                "top5_error": err.get("top5"),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no model matches {args.pattern!r}")
        return 1
    headers = [
        "model",
        "family",
        "year",
        "depth",
        "params",
        "input",
        "torchvision",
        "top-1 err %",
        "top-5 err %",
    ]
    print_table(
        headers,
        [
            [
                r["name"],
                r["family"],
                r["year"],
                r["depth"],
                r["params"],
                "x".join(map(str, r["input"])),
                r["torchvision"],
                r["top1_error"],
                r["top5_error"],
            ]
            for r in rows
        ],
        right=[False, False, False, True, True, False, False, True, True],
    )
    print(
        f"\n{len(rows)} models. Errors are the papers' own (see `model_info(name)` for the "
        "protocol); parameters at the default number of classes."
    )
    return 0
