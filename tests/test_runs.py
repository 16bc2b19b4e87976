"""Run folders that survive what happens to runs (issue 12): reuse, divergence, full or
read-only disks, bad files, and kills at any point, inside checkpoint writes included.

Kill, disk-full and read-only tests run ``moderncnn`` as a subprocess (tests/killable_train.py);
the last two mount a small tmpfs in a private mount namespace (``unshare``) and are skipped
where that is not allowed. ``MODERNCNN_SLOW=1`` adds kills at 12 random points.
"""

from __future__ import annotations

import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import moderncnn
import tiny_model  # noqa: F401  (registers tiny_test_net)
from moderncnn.cli import main
from moderncnn.cli.output import print_json
from moderncnn.errors import CheckpointError, DivergedError
from moderncnn.io import to_json
from moderncnn.models.weights import read_weights, save_weights
from moderncnn.train import engine, resolve_config, train
from moderncnn.train.metrics import read_metrics
from moderncnn.train.state import latest_checkpoint

TESTS = Path(__file__).resolve().parent
SRC = Path(moderncnn.__file__).resolve().parents[1]
SLOW = os.environ.get("MODERNCNN_SLOW") == "1"


def _tiny(data: Path, out: Path, *extra: str) -> list[str]:
    """A deterministic tiny run: 4 steps an epoch, 3 epochs, seconds."""
    return [
        "train", "tiny_test_net", "--recipe", "cifar_fast", "--data-dir", str(data),
        "--output", str(out), "--epochs", "3", "--batch-size", "25", "--val-size", "50",
        "--limit", "150", "--deterministic", "--no-progress", "--no-tensorboard", *extra,
    ]  # fmt: skip


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*"))


# -- 1. a run folder is never reused silently --------------------------------------------


def test_a_run_folder_is_not_reused_silently(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    """Training again into a run's folder is refused (naming --resume and --overwrite) and
    leaves it as it was; --overwrite clears the run first, so no later checkpoint of the old
    run stays for a --resume to pick up; other files in the folder are left alone."""
    run = tmp_path / "run"
    assert main(_tiny(fake_cifar, run)) == 0
    (run / "notes.txt").write_text("mine")
    listing = _files(run)
    before = {p: (run / p).read_bytes() for p in listing if (run / p).is_file()}
    capsys.readouterr()

    assert main(_tiny(fake_cifar, run, "--epochs", "1", "--lr", "0.01")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(run) in err
    assert "--resume" in err and "--overwrite" in err
    assert _files(run) == listing and {p: (run / p).read_bytes() for p in before} == before

    assert main(_tiny(fake_cifar, run, "--epochs", "1", "--overwrite")) == 0
    assert latest_checkpoint(run).name == "epoch-0001"
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch-0001"]
    assert [r["epoch"] for r in read_metrics(run / "metrics.csv")] == ["1"]
    assert json.loads((run / "results.json").read_text())["epochs"] == 1
    assert (run / "notes.txt").read_text() == "mine"

    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--overwrite"]) == 2
    assert "not both" in capsys.readouterr().err


# -- 2. divergence anywhere stops the run; JSON is strict --------------------------------


def test_divergence_in_validation_stops_the_run(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    """lr 20: the training loss stays finite (1e6, BatchNorm normalising with batch
    statistics) while the validation loss is NaN; the run stops in epoch 1 with no
    checkpoint, no best.safetensors and no results.json."""
    run = tmp_path / "lr20"
    argv = ["train", "resnet20", "--recipe", "fast", "--data-dir", str(fake_cifar)]
    argv += ["--output", str(run), "--epochs", "2", "--lr", "20", "--batch-size", "50"]
    argv += ["--val-size", "100", "--no-progress", "--no-tensorboard", "--no-test"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "moderncnn train: error: validation loss is nan in epoch 1 near step 6: training "
        "diverged. Last good checkpoint: none (no epoch finished). Lower --lr (now 20.0)"
    )
    assert not (run / "checkpoints").exists() and not (run / "best.safetensors").exists()
    assert not (run / "results.json").exists()


def test_infinite_batchnorm_statistics_stop_the_run(
    fake_cifar: Path, tmp_path: Path, monkeypatch
) -> None:
    """An inf running variance normalises to 0, so validation stays finite: the statistics
    themselves are checked, before epoch 2's checkpoint is written."""
    real = engine.Trainer._train_epoch

    def blow_up_in_epoch_2(self):
        out = real(self)
        if self.epoch == 1:
            self.raw_model.layer1[0].bn1.running_var[3] = math.inf
        return out

    monkeypatch.setattr(engine.Trainer, "_train_epoch", blow_up_in_epoch_2)
    cfg = resolve_config("resnet20", "fast", data_dir=str(fake_cifar), output=str(tmp_path),
                         epochs=2, batch_size=50, val_size=100, limit=200, progress=False,
                         tensorboard=False, test=False)  # fmt: skip
    with pytest.raises(DivergedError) as e:
        train(cfg)
    assert str(e.value).startswith(
        "BatchNorm statistics (layer1.0.bn1.running_var) hold NaN or inf in epoch 2 near step 4:"
    )
    assert f"Last good checkpoint: {tmp_path / 'checkpoints' / 'epoch-0001'}." in str(e.value)
    assert latest_checkpoint(tmp_path).name == "epoch-0001"
    assert read_weights(tmp_path / "best.safetensors")[1]["epoch"] == "1"


def _strict(text: str) -> object:
    def refuse(token: str) -> None:
        raise AssertionError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict(capsys, tmp_path: Path) -> None:
    """No NaN or Infinity tokens: non-finite numbers are null, wherever JSON is written."""
    obj = {"loss": math.nan, "errs": [1.5, math.inf, -math.inf], "n": (3, {"x": math.nan})}
    assert _strict(to_json(obj)) == {"loss": None, "errs": [1.5, None, None], "n": [3, {"x": None}]}
    print_json(obj)
    assert _strict(capsys.readouterr().out)["loss"] is None
    model = moderncnn.create_model("tiny_test_net")
    save_weights(model, tmp_path / "w.safetensors", mean=[math.nan, 0.5])
    assert moderncnn.models.weights.read_metadata(tmp_path / "w.safetensors")["mean"] == [None, 0.5]
    sources = [*SRC.rglob("*.py"), *(TESTS.parent / "benchmarks").glob("*.py")]
    for path in sources:  # one writer of JSON: moderncnn.io.to_json
        if path.name != "io.py":
            text = path.read_text()
            assert "json.dump(" not in text and "json.dumps(" not in text, path


# -- 3. I/O failures: one line naming the path and the cause -----------------------------


def _subprocess(argv: list[str], prefix: tuple[str, ...] = (), **env: str):
    """``killable_train.py argv`` (after ``prefix``, e.g. unshare ... sh -c)."""
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
        "OMP_NUM_THREADS": "1",
        **env,
    }
    cmd = [*prefix, sys.executable, str(TESTS / "killable_train.py"), *argv]
    return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """``unshare`` arguments for a private mount namespace (as root, or as a user through a
    user namespace) where tmpfs can be mounted; skip when neither is allowed."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to mount a small file system in a private namespace")
    prefix = ("unshare", "-m") if os.geteuid() == 0 else ("unshare", "-r", "-m")
    probe = tmp_path_factory.mktemp("probe")
    done = subprocess.run(
        [*prefix, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs in a private namespace: {done.stderr.strip()}")
    return prefix


def _on_tmpfs(
    namespace: tuple[str, ...], mount: Path, size: str, read_only: bool, argv: list[str]
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``argv`` with a tmpfs of ``size`` (remounted read-only) at ``mount``; return the
    process and a copy of what the tmpfs held at its end (the mount dies with the process)."""
    copy = mount.parent / f"{mount.name}-copy"
    mount.mkdir()
    copy.mkdir()
    at, to = shlex.quote(str(mount)), shlex.quote(str(copy))
    ro = f" && mount -o remount,ro,bind {at} {at}" if read_only else ""
    script = (
        f'mount -t tmpfs -o size={size} tmpfs {at}{ro} && "$0" "$@"; '
        f"status=$?; cp -a {at}/. {to}/; exit $status"
    )
    return _subprocess(argv, (*namespace, "sh", "-c", script)), copy


def test_a_full_disk_ends_in_one_line(
    fake_cifar: Path, tmp_path: Path, namespace: tuple[str, ...]
) -> None:
    """A 128 KiB file system fills up while epoch 2's checkpoint is written (torch.save says
    "unexpected pos"): one line names the checkpoint and the cause, epoch 1's checkpoint is
    intact and no temporary is left."""
    mount = tmp_path / "small"
    done, copy = _on_tmpfs(namespace, mount, "128k", False, _tiny(fake_cifar, mount / "run"))
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert err.startswith("moderncnn train: error: cannot write ")
    assert str(mount / "run" / "checkpoints" / "epoch-0002") in err
    assert err.endswith("No space left on device")
    run = copy / "run"
    assert [p for p in _files(run) if ".tmp" in p] == []
    assert latest_checkpoint(run).name == "epoch-0001"
    weights, _ = read_weights(run / "checkpoints" / "epoch-0001" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert torch.load(run / "checkpoints" / "epoch-0001" / "state.pt")["epoch"] == 1


def test_a_read_only_output_is_refused_before_the_data_is_read(
    tmp_path: Path, namespace: tuple[str, ...]
) -> None:
    """The data folder does not exist: the output folder is checked first."""
    mount = tmp_path / "ro"
    argv = _tiny(tmp_path / "no-data", mount / "run")
    done, _ = _on_tmpfs(namespace, mount, "64k", True, argv)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"moderncnn train: error: cannot write {str(mount / 'run')!r}: Read-only file system"
    )


def test_an_output_path_that_is_a_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    for out, message in [
        (tmp_path / "file", "it is a file, not a folder"),
        (tmp_path / "file" / "run", f"{str(tmp_path / 'file')!r} is a file, not a folder"),
    ]:
        assert main(_tiny(tmp_path / "no-data", out)) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"moderncnn train: error: cannot write {str(out)!r}: {message}"


def test_garbage_config_toml(tmp_path: Path, capsys) -> None:
    (tmp_path / "config.toml").write_bytes(bytes(range(256)))
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    path = tmp_path / "config.toml"
    assert err.startswith(f"moderncnn train: error: run configuration {str(path)!r} is not valid")
    assert len(err.splitlines()) == 1


def test_missing_weights_are_reported_before_the_data_is_read(tmp_path: Path, capsys) -> None:
    """By the flag's check, and by the library's before it reads the (here missing) data."""
    missing = str(tmp_path / "w.pth")
    argv = _tiny(tmp_path / "no-data", tmp_path / "run", "--weights", missing)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"moderncnn train: error: argument --weights: weights file {missing!r} does not exist"
    )
    cfg = resolve_config("tiny_test_net", "cifar_fast", data_dir=str(tmp_path / "no-data"),
                         output=str(tmp_path / "run"), weights=missing)  # fmt: skip
    with pytest.raises(CheckpointError, match="does not exist"):
        train(cfg)


def test_unreadable_weights_files_say_why(tmp_path: Path) -> None:
    """Never torch's advice to load with weights_only=False."""
    model = moderncnn.create_model("tiny_test_net")
    torch.save(model, tmp_path / "module.pth")
    torch.save(model.state_dict(), tmp_path / "good.pth")
    data = (tmp_path / "good.pth").read_bytes()
    (tmp_path / "half.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("hello\n")
    (tmp_path / "noise.pth").write_bytes(bytes(range(256)) * 4)
    corrupt = "not a PyTorch weights file, or a truncated or corrupt one"
    expected = {
        "module": "it holds pickled Python objects (tiny_model.TinyNet), not a plain state_dict",
        "half": corrupt,
        "empty": "it is empty",
        "text": corrupt,
        "noise": corrupt,
    }
    for name, reason in expected.items():
        path = tmp_path / f"{name}.pth"
        with pytest.raises(CheckpointError) as e:
            read_weights(path)
        assert str(e.value).startswith(f"cannot read weights from {str(path)!r}: {reason}")
        assert "weights_only" not in str(e.value) and "\n" not in str(e.value)


def test_written_files_follow_the_umask(fake_cifar: Path, tmp_path: Path) -> None:
    """Weights and checkpoints get the mode metrics.csv gets (safetensors makes 0600 files)."""
    old = os.umask(0o022)
    try:
        assert main(_tiny(fake_cifar, tmp_path / "run", "--epochs", "1")) == 0
    finally:
        os.umask(old)
    run = tmp_path / "run"
    modes = {p: (run / p).stat().st_mode & 0o777 for p in _files(run) if (run / p).is_file()}
    assert set(modes.values()) == {0o644}, modes


def test_stale_temporaries_are_removed_when_a_run_resumes(fake_cifar: Path, tmp_path: Path) -> None:
    """What a kill left: temporaries, and an older checkpoint (killed between renaming the
    new one into place and removing the old)."""
    run = tmp_path / "run"
    assert main(_tiny(fake_cifar, run, "--epochs", "1")) == 0
    (run / ".best.safetensors.x1y2.tmp").write_bytes(b"half")
    (run / "checkpoints" / ".epoch-0002.tmp").mkdir()
    (run / "checkpoints" / ".epoch-0002.tmp" / "model.safetensors").write_bytes(b"half")
    shutil.copytree(run / "checkpoints" / "epoch-0001", run / "checkpoints" / "epoch-0000")
    (run / "other.tmp").write_text("not ours")
    (run / "results.json").unlink()  # killed in the final evaluation: resuming finishes it
    assert main(["train", "--resume", str(run)]) == 0
    assert (run / "results.json").is_file()
    assert [p for p in _files(run) if ".tmp" in p] == ["other.tmp"]
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch-0001"]


# -- kills at any point: the resumed run ends bit for bit as an uninterrupted one ----------


@pytest.fixture(scope="module")
def whole_run(fake_cifar: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The uninterrupted run and its event counts."""
    folder = tmp_path_factory.mktemp("whole")
    events = folder / "events.json"
    done = _subprocess(_tiny(fake_cifar, folder / "run"), EVENTS=str(events))
    assert done.returncode == 0, done.stderr
    return folder / "run", json.loads(events.read_text())


SEED = os.environ.get("MODERNCNN_SLOW_SEED", "0")
#: Each case: the kill points of successive processes, each but the first resuming (or
#: starting over with --overwrite when no checkpoint was left) the run the last one left.
CASES = [
    # epoch 1's checkpoint half written (state.pt not renamed): no checkpoint, --overwrite;
    # then killed before epoch 2's checkpoint folder is renamed into place (a complete
    # .epoch-0002.tmp left): resumed from epoch 1.
    ["fsync@checkpoint:3", "replace@checkpoint:6"],
    *([f"random:{SEED}:{i}"] for i in range(12) if SLOW),
]


def _draw(point: str, counts: dict[str, int]) -> str:
    """``point``, or for ``random:SEED:I`` a random event and count of the whole run."""
    if not point.startswith("random:"):
        return point
    _, seed, i = point.split(":")
    rng = random.Random(f"{seed}:{i}")
    event = rng.choice(["step", "fsync", "replace", "replaced"])
    return f"{event}:{rng.randint(1, counts[event])}"


@pytest.mark.parametrize("points", CASES, ids=["-".join(c) for c in CASES])
def test_killed_runs_resume_exactly(
    points: list[str], fake_cifar: Path, tmp_path: Path, whole_run: tuple[Path, dict]
) -> None:
    whole, counts = whole_run
    run, log = tmp_path / "run", tmp_path / "kills.log"
    for point in [_draw(p, counts) for p in points] + [""]:
        argv = _tiny(fake_cifar, run, "--overwrite")
        if latest_checkpoint(run) is not None:
            argv = ["train", "--resume", str(run)]
        done = _subprocess(argv, KILL_AT=point, KILL_LOG=str(log))
        assert done.returncode == (-9 if point else 0), (point, done.stderr)
    kills = log.read_text().splitlines()
    print(f"\nkilled at {', '.join(kills)}")
    assert len(kills) == len(points)
    _assert_same_run(whole, run)


def _assert_same_run(a: Path, b: Path) -> None:
    assert _files(a) == _files(b)  # no temporaries, no older checkpoint left
    last = Path("checkpoints") / "epoch-0003"
    for name in (last / "model.safetensors", Path("best.safetensors")):
        wa, wb = load_file(a / name), load_file(b / name)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name
    sa, sb = (torch.load(r / last / "state.pt", weights_only=True) for r in (a, b))
    ma, mb = sa["optimizer"]["state"], sb["optimizer"]["state"]
    assert ma.keys() == mb.keys()
    assert all(torch.equal(ma[k]["momentum_buffer"], mb[k]["momentum_buffer"]) for k in ma)
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])  # Python's: never seeded
    assert [sa[k] for k in ("step", "best_epoch", "schedule")] == [
        sb[k] for k in ("step", "best_epoch", "schedule")
    ]
    keys = ("epoch", "step", "lr", "train_loss", "val_loss", "val_top1_err")
    rows_a, rows_b = read_metrics(a / "metrics.csv"), read_metrics(b / "metrics.csv")
    assert [[r[k] for k in keys] for r in rows_a] == [[r[k] for k in keys] for r in rows_b]
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (a, b))
    assert (ra["best_epoch"], ra["val"], ra["test"]) == (rb["best_epoch"], rb["val"], rb["test"])


# -- a run keeps its identity (issue 21) --------------------------------------------------

#: Schedules, as the options that make them (milestones in epochs or fractions of the run).
SCHEDULES = {
    "step": {"schedule": "step", "milestones": [2.0]},
    "step-fraction": {"schedule": "step", "milestones": [0.5], "milestone_unit": "fraction"},
    "constant": {"schedule": "constant"},
    "plateau": {"schedule": "plateau"},
    "cosine": {"schedule": "cosine"},
    "onecycle": {"schedule": "onecycle"},
}
EXTENDABLE = {"step", "constant", "plateau"}
#: A flag's new value on resume, and whether resuming allows it (None: where the schedule
#: can be extended).
RESUME_RULES = {
    "epochs": (5, None),
    "iterations": (40, None),
    "device": ("cpu", True),
    "workers": (0, True),
    "progress": (False, True),
    "tensorboard": (False, True),
    "cache_dir": ("/elsewhere", True),
    "data_dir": ("/moved/data", True),
    "strict": (True, True),
    "deterministic": (True, True),
    "lr": (5.0, False),
    "limit": (300, False),
    "val_size": (500, False),
    "batch_size": (16, False),
    "seed": (1, False),
    "augment": ("none", False),
    "weight_decay": (0.0, False),
    "model_kwargs": ({"width": 2}, False),
    "weights": ("x.safetensors", False),
    "test": (False, False),
    "recipe": ("vgg", False),
}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("flag", "rule"), RESUME_RULES.items(), ids=list(RESUME_RULES))
def test_resume_rules(schedule: str, flag: str, rule: tuple) -> None:
    """Flag x schedule -> allowed or refused, through the one function that decides."""
    from moderncnn.errors import ConfigError
    from moderncnn.train.config import config_from, resume_changes

    base = {"model": "tiny_test_net", "data_dir": "/data", "epochs": 3, **SCHEDULES[schedule]}
    saved = config_from(base, source="test")
    new, allowed = rule
    changed = {**base, flag: new}
    if flag == "iterations":
        changed["epochs"] = 0
    if allowed is None:
        allowed = schedule in EXTENDABLE
    cfg = config_from(changed, source="test")
    if allowed:
        assert resume_changes(saved, cfg)[flag] == (getattr(saved, flag), new)
    else:
        with pytest.raises(ConfigError) as e:
            resume_changes(saved, cfg)
        named = (
            f"--{flag.replace('_', '-')} (run: "
            if flag not in ("epochs", "iterations")
            else (
                f"{schedule if schedule in ('cosine', 'onecycle') else 'milestones are fractions'}"
            )
        )
        assert named in str(e.value) and "\n" not in str(e.value)


def test_an_allowed_change_is_recorded_with_its_epoch(
    fake_cifar: Path, tmp_path: Path, capsys
) -> None:
    """A constant schedule run of 2 epochs, made 3 on resume with 0 workers: config.toml says
    so (since epoch 3), stays a recipe that trains, and epoch 3 runs at the run's lr."""
    run = tmp_path / "run"
    assert main(_tiny(fake_cifar, run, "--schedule", "constant", "--epochs", "2")) == 0
    assert main(["train", "--resume", str(run), "--epochs", "3", "--workers", "0"]) == 0
    text = (run / "config.toml").read_text()
    assert "epochs = 3\n" in text and "workers = 0\n" in text
    assert text.splitlines()[-1] == "# from epoch 3: workers = 0 (was 2); epochs = 3 (was 2)"
    assert json.loads((run / "results.json").read_text())["epochs"] == 3
    rows = read_metrics(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert {float(r["lr"]) for r in rows} == {0.05}  # cifar_fast's lr, never restarted
    cfg = resolve_config("tiny_test_net", str(run / "config.toml"))
    assert (cfg.epochs, cfg.workers) == (3, 0)


def test_refused_changes_leave_the_run_as_it_was(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    """The issue's cases: a one-cycle run made longer, lr 5, another subset and batch size;
    and a finished run resumed as it is. Each one line, before anything is read or written."""
    run = tmp_path / "run"
    assert main(_tiny(fake_cifar, run)) == 0
    before = {p: (run / p).read_bytes() for p in _files(run) if (run / p).is_file()}
    capsys.readouterr()
    resume = ["train", "--resume", str(run)]
    cases = [
        (["--epochs", "4"], "the run's length cannot change (epochs = 3): its onecycle"),
        (["--lr", "5"], "a resumed run keeps what defines it: --lr (run: 0.05) cannot change"),
        (["--limit", "300", "--batch-size", "16"], "--limit (run: 150), --batch-size (run: 25)"),
        ([], "is finished (3 epochs, results in results.json); it cannot be trained longer"),
        (["--epochs", "2", "--schedule", "step"], "--schedule (run: 'onecycle')"),
    ]
    for extra, message in cases:
        assert main([*resume, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert {p: (run / p).read_bytes() for p in before} == before


def test_a_resumed_run_keeps_its_data(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    """Other data is refused by its digest, saying why; the same data moved elsewhere and a
    relative --data-dir resumed from another folder are fine (the path is stored resolved)."""
    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(fake_cifar, data)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        argv = _tiny(Path("data"), run, "--schedule", "constant", "--epochs", "1")
        assert main(argv) == 0
    finally:
        os.chdir(here)
    assert f'data_dir = "{data}"' in (run / "config.toml").read_text()
    other = tmp_path / "other"
    from conftest import write_fake_cifar

    write_fake_cifar(other, n_train=500)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--data-dir", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not hold the training images" in err and "keeps its data" in err
    moved = tmp_path / "moved"
    data.rename(moved)
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"moderncnn train: error: the run's data directory {str(data)!r} (recorded in "
        f"{str(run / 'config.toml')!r}) does not exist; give --data-dir where the run's data "
        "is now (it is checked to be the same images)"
    )
    assert main(["train", "--resume", str(run), "--epochs", "2", "--data-dir", str(moved)]) == 0
    last = (run / "config.toml").read_text().splitlines()[-1]
    assert last == f'# from epoch 2: data_dir = "{moved}" (was "{data}"); epochs = 2 (was 1)'


@pytest.mark.parametrize("point", ["step:6", "replace@checkpoint:4"])
def test_ctrl_c_says_where_and_resumes_exactly(
    point: str, fake_cifar: Path, tmp_path: Path, whole_run: tuple[Path, dict]
) -> None:
    """A real SIGINT in epoch 2 (step 6 of 4 an epoch; or as its checkpoint is renamed into
    place): one line naming the epoch and the command that resumes, exit 130, epoch 1's
    checkpoint intact and no temporary; resuming ends as the uninterrupted run."""
    whole, _ = whole_run
    run = tmp_path / "run"
    log = tmp_path / "kills.log"
    done = _subprocess(
        _tiny(fake_cifar, run), KILL_AT=point, KILL_SIGNAL="SIGINT", KILL_LOG=str(log)
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"moderncnn train: interrupted in epoch 2; resume with `moderncnn train --resume {run}`"
    )
    assert [p for p in _files(run) if ".tmp" in p] == []
    assert latest_checkpoint(run).name == "epoch-0001"
    assert _subprocess(["train", "--resume", str(run)]).returncode == 0
    _assert_same_run(whole, run)


def test_ctrl_c_before_the_first_checkpoint(fake_cifar: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    log = str(tmp_path / "kills.log")
    done = _subprocess(_tiny(fake_cifar, run), KILL_AT="step:2", KILL_SIGNAL="SIGINT", KILL_LOG=log)
    assert done.returncode == 130 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"moderncnn train: interrupted in epoch 1; start it again with --overwrite --output {run}"
    )


def test_eval_scores_the_runs_own_split(fake_cifar: Path, tmp_path: Path, capsys) -> None:
    """A run with --limit 150 --val-size 50: `eval --split val` scores the run's 50 validation
    images (its error is the run's), --limit takes a subset of them, --split train the
    other 100; data with other training images is refused, saying whose split it is not."""
    from conftest import write_fake_cifar
    from moderncnn.scoring import evaluate_weights

    run = tmp_path / "run"
    assert main(_tiny(fake_cifar, run, "--no-test")) == 0
    weights = run / "best.safetensors"
    meta = moderncnn.models.weights.read_metadata(weights)
    assert (meta["limit"], meta["val_size"], len(meta["split_digest"])) == (150, 50, 16)
    val = json.loads((run / "results.json").read_text())["val"]
    kw = dict(split="val", progress=False, workers=0)
    ev = evaluate_weights("tiny_test_net", weights, fake_cifar, **kw)
    assert (ev.result.n, ev.result.top1_err) == (50, val["top1_err"])
    assert ev.result.loss == pytest.approx(val["loss"], rel=1e-5)
    assert evaluate_weights("tiny_test_net", weights, fake_cifar, **kw, limit=20).result.n == 20
    kw["split"] = "train"
    assert evaluate_weights("tiny_test_net", weights, fake_cifar, **kw, limit=200).result.n == 100
    other = write_fake_cifar(tmp_path / "other", n_train=500)
    capsys.readouterr()
    argv = ["eval", "tiny_test_net", "--weights", str(weights), "--data", str(other)]
    assert main([*argv, "--split", "val", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"moderncnn eval: error: {str(other / 'cifar-10-batches-py')!r} does ")
    assert f"not hold the training images of the run of {str(weights)!r}" in err


def test_the_split_digest_follows_the_images_not_the_folder(tmp_path: Path) -> None:
    """An ImageFolder tree copied elsewhere keeps its digest; a file renamed, removed or
    moved to another class changes it (CIFAR's: its pixels and labels, see the resume test)."""
    from conftest import write_image_folder
    from moderncnn.data.sources import digest, list_folder

    a = write_image_folder(tmp_path / "a", size=8, per_class=3)

    def of(root: Path) -> str:
        return digest(list_folder(root / "train"), root)

    first = of(a)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert of(b) == first
    (b / "train" / "cat" / "0.png").rename(b / "train" / "cat" / "9.png")
    renamed = of(b)
    (b / "train" / "cat" / "9.png").rename(b / "train" / "dog" / "9.png")
    moved = of(b)
    (b / "train" / "dog" / "9.png").unlink()
    assert len({first, renamed, moved, of(b)}) == 4
