"""``moderncnn experiment list / run / report``: the lecture's claims as experiments."""

from __future__ import annotations

import argparse
import dataclasses

from moderncnn.cli import add_command
from moderncnn.cli.output import print_json, print_table
from moderncnn.cli.types import DEVICE, POSITIVE, output
from moderncnn.experiments import EXPERIMENTS, LEVELS, get_experiment, plan, run_experiment
from moderncnn.experiments.report import write_report
from moderncnn.experiments.runner import DEFAULT_OUT
from moderncnn.precision import AMP_CHOICES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "experiment",
        description="Test the lecture's claims: each experiment trains its arms (with the "
        "engine of `moderncnn train`), writes OUT/BUDGET/NAME/results.json and a figure, and "
        "gives a verdict against the paper's number. Finished runs are reused, interrupted ones "
        "resume.",
    )
    cmds = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = cmds.add_parser("list", help="the experiments, their claims and sources")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)

    run = cmds.add_parser("run", help="run (or continue) experiments")
    run.add_argument("names", nargs="+", metavar="NAME", help="experiment names, or 'all'")
    levels = "smoke (seconds, CI), quick (minutes on a laptop), paper (a GPU)"
    run.add_argument("--budget", choices=LEVELS, default="quick", help=levels)
    data = "CIFAR-10: a CIFAR python folder or an ImageFolder tree"
    run.add_argument("--data-dir", "--data", default="", help=data)
    run.add_argument("--seeds", type=POSITIVE, help="seeds per arm (default: the budget's)")
    run.add_argument("--out", default=str(DEFAULT_OUT), help=f"default {DEFAULT_OUT}")
    run.add_argument(
        "--device", type=DEVICE, default="", help="default: cuda if available, else cpu"
    )
    amp = (
        "one precision for every run instead of the recipes' auto (bf16 where the CPU has it "
        "natively): none measures the fp32 path of a CPU without it"
    )
    run.add_argument("--amp", choices=AMP_CHOICES, default="", help=amp)
    run.add_argument("--dry-run", action="store_true", help="print the training commands only")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.set_defaults(func=run_run)

    cost = cmds.add_parser(
        "cost", help="estimate each experiment's training time on this machine (measured)"
    )
    cost.add_argument("names", nargs="+", metavar="NAME", help="experiment names, or 'all'")
    cost.add_argument("--budget", choices=LEVELS, default="quick", help=levels)
    cost.add_argument("--seeds", type=POSITIVE, help="seeds per arm (default: the budget's)")
    cost.add_argument("--amp", choices=AMP_CHOICES, default="", help=amp)
    cost.add_argument("--json", action="store_true", help="print JSON")
    cost.set_defaults(func=run_cost)

    rep = cmds.add_parser("report", help="write docs/lecture.md from the results")
    rep.add_argument("--results", default=str(DEFAULT_OUT), help="the run's --out")
    rep.add_argument("--budget", choices=LEVELS, default="quick")
    rep.add_argument("--out", "-o", default="docs/lecture.md", type=output(".md"))
    rep.set_defaults(func=run_report)


def run_list(args: argparse.Namespace) -> int:
    if args.json:
        print_json(
            [
                {
                    "name": e.name,
                    "claim": e.claim,
                    "source": e.source,
                    "paper": e.paper,
                    "arms": [a.label for a in e.arms],
                    "budgets": list(e.budgets),
                }  # fmt: skip
                for e in EXPERIMENTS.values()
            ]
        )
        return 0
    rows = [[e.name, len(e.arms), e.source, e.claim] for e in EXPERIMENTS.values()]
    print_table(["experiment", "arms", "source", "claim"], rows, [False, True, False, False])
    return 0


def run_run(args: argparse.Namespace) -> int:
    names = list(EXPERIMENTS) if args.names == ["all"] else args.names
    experiments = [get_experiment(n) for n in names]  # every name checked first
    everything = []
    for exp in experiments:
        if args.dry_run:
            planned = plan(exp, args.budget, args.data_dir, args.out, args.seeds, args.device,
                           amp=args.amp)  # fmt: skip
            for p in planned:
                print(p.command)
            if any(p.grid for p in planned):
                seeds = args.seeds or exp.budgets[args.budget].seeds
                print(f"then {seeds} seeds an arm at its grid's best learning rate")
            continue
        results = run_experiment(exp, args.budget, args.data_dir, args.out, args.seeds,
                                 args.device, amp=args.amp)  # fmt: skip
        everything.append(results)
        if not args.json:
            v = results["verdict"]
            print(f"{exp.name}: {v['status']}: {v['text']}")
    if args.json:
        print_json(everything)
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from moderncnn.experiments.cost import estimate

    names = list(EXPERIMENTS) if args.names == ["all"] else args.names
    experiments = [get_experiment(n) for n in names]
    costs = {exp.name: estimate(exp, args.budget, args.seeds, args.amp) for exp in experiments}
    if args.json:
        print_json({n: [dataclasses.asdict(c) | {"minutes": c.minutes} for c in cs]
                    for n, cs in costs.items()})  # fmt: skip
        return 0
    rows = [[n, c.label, c.runs, f"{c.images:,}", f"{c.images_per_s:.0f}", f"{c.minutes:.1f}"]
            for n, cs in costs.items() for c in cs]  # fmt: skip
    rows += [[n, "(all arms)", "", "", "", f"{sum(c.minutes for c in cs):.1f}"]
             for n, cs in costs.items()]  # fmt: skip
    print_table(["experiment", "arm", "runs", "images a run (at most)", "images/s", "minutes"],
                rows, [False, False, True, True, True, True])  # fmt: skip
    return 0


def run_report(args: argparse.Namespace) -> int:
    print(write_report(args.results, args.budget, args.out))
    return 0
