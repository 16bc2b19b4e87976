"""``moderncnn models``: the zoo as a table (or JSON)."""

from __future__ import annotations

import argparse

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json, print_table
from moderncnn.models import list_models, model_info


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "models",
        description="List registered models: family, year, depth, parameters of the "
        "inference network (and of training-only auxiliary heads), input size, torchvision "
        "match and the error the paper reports; --json adds each model's options and their "
        "defaults (what create_model(name, **options) and train's model_kwargs take).",
    )
    p.add_argument("pattern", nargs="?", help="fnmatch filter, e.g. 'resnet*'")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="list the published weights instead: name, accuracy, preprocessing, file",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        return run_pretrained(args)
    rows = []
    for name in list_models(args.pattern):
        info = model_info(name)
        if info.params is None:  # registered without its count: count it on meta
            from moderncnn.models.probe import count_params

            params, aux = count_params(name)
        else:
            params, aux = info.params, info.aux_params
        err = info.reported_error
        rows.append(
            {
                "name": name,
                "family": info.family,
                "year": info.year,
                "depth": info.depth,
                "params": params,
                "aux_params": aux,
                "input": list(info.input_size),
                "torchvision": info.torchvision,
                "top1_error": err.top1 if err else None,
                "top5_error": err.top5 if err else None,
                "error_variant": err.variant if err and err.variant else None,
                "options": info.options,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no model matches {args.pattern!r}")
        return 1
    marks: dict[str, str] = {}  # error variant -> footnote mark
    for r in rows:
        if r["error_variant"]:
            marks.setdefault(r["error_variant"], f" [{len(marks) + 1}]")

    def error(r: dict, key: str) -> str | None:
        value = r[key]
        if value is None:
            return None
        return f"{value:.2f}{marks.get(r['error_variant'], '')}"

    headers = ["model", "family", "year", "depth", "params", "+aux (train)", "input",
               "torchvision", "top-1 err %", "top-5 err %"]  # fmt: skip
    table = [
        [
            r["name"],
            r["family"],
            str(r["year"]),
            str(r["depth"]),
            r["params"],
            f"+{r['aux_params']:,}" if r["aux_params"] else None,
            "x".join(map(str, r["input"])),
            r["torchvision"],
            error(r, "top1_error"),
            error(r, "top5_error"),
        ]
        for r in rows
    ]
    print_table(headers, table, right=[0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
    print(
        f"\n{len(rows)} models. params: the inference network at the default number of classes;"
        "\n+aux: training-only auxiliary heads built by default. Errors are the papers' own"
        "\n(`model_info(name).reported_error` gives the protocol)."
    )
    for variant, mark in marks.items():
        print(f"{mark.strip()} reported for another variant than the default: {variant}")
    return 0


def run_pretrained(args: argparse.Namespace) -> int:
    """The published weights of the zoo, from torchvision's weights enums."""
    from moderncnn.models.pretrained import cached_path, torchvision_cfg, weights_enum

    rows = []
    for name in list_models(args.pattern):
        enum = weights_enum(name)
        for w in enum or ():
            cfg = torchvision_cfg(w)
            rows.append(
                {
                    "model": name,
                    "weights": w.name,
                    "default": w is enum.DEFAULT,
                    "acc1": cfg.metrics.get("acc@1"),
                    "acc5": cfg.metrics.get("acc@5"),
                    "resize": cfg.data.resize,
                    "crop": cfg.data.crop,
                    "interpolation": cfg.data.interpolation,
                    "file_mb": w.meta.get("_file_size"),
                    "url": w.url,
                    "cached": cached_path(w).is_file(),
                }
            )
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no model with published weights matches {args.pattern!r}")
        return 1
    headers = ["model", "weights", "acc@1 %", "acc@5 %", "resize/crop", "file MB", "cached"]
    table = [
        [
            r["model"],
            r["weights"] + (" (DEFAULT)" if r["default"] else ""),
            r["acc1"],
            r["acc5"],
            f"{r['resize']}/{r['crop']} {r['interpolation']}",
            r["file_mb"],
            r["cached"],
        ]
        for r in rows
    ]
    print_table(headers, table, right=[0, 0, 1, 1, 0, 1, 0])
    print(
        f"\n{len(rows)} published weights (torchvision's, ImageNet-1K val, single crop). "
        "create_model(name, weights=WEIGHTS) downloads them into $TORCH_HOME/hub/checkpoints."
    )
    return 0
