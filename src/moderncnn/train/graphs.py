"""Whole-step CUDA graphs: forward, loss, backward and the SGD step captured once and
replayed, so that a small network's step costs one launch instead of hundreds.

This is PyTorch's "whole network capture" (``torch.cuda.graph``, CUDA semantics notes): a few
eager steps on a side stream first (cuDNN picks its algorithms, the optimizer makes its
momentum buffers), then one capture with gradients unset, so that the backward pass of every
replay writes them afresh. The input batch is copied into static tensors, the learning rate
lives in a device tensor per parameter group (the schedule fills it before each replay, with no
re-capture), BN statistics and the metrics' sums are updated in place inside the graph.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from moderncnn.train import distributed
from moderncnn.train.config import TrainConfig

#: Eager steps before the capture (PyTorch's example uses 3; cuDNN's autotuning needs one).
WARMUP_STEPS = 3


def graph_blocker(cfg: TrainConfig, env: distributed.DistEnv) -> str | None:
    """Why the training step of ``cfg`` cannot be one CUDA graph in ``env`` (None: it can)."""
    if not cfg.cuda_graphs:
        return "not asked for (--cuda-graphs)"
    if env.device.type != "cuda":
        return f"the device is {env.device.type}, not a GPU"
    reasons = {
        "torch.compile (its mode 'reduce-overhead' uses CUDA graphs itself)": cfg.compile,
        "several processes (DDP's gradient buckets are not captured)": env.world > 1,
        "gradient accumulation (--accum-steps > 1)": cfg.accum_steps > 1,
        "fp16's grad scaler (its inf check syncs with the host; use --amp bf16)": cfg.amp == "fp16",
    }
    return next((why for why, applies in reasons.items() if applies), None)


class GraphedStep:
    """``step(x, y)`` (one optimizer step's work, gradients unset before it) run eagerly for
    :data:`WARMUP_STEPS` calls, then captured and replayed for every batch of the same shape
    (a batch of another shape runs eagerly). Before each call the caller sets the learning
    rates in the tensors :meth:`lr_tensors` put into ``optimizer``'s groups."""

    def __init__(
        self,
        step: Callable[[torch.Tensor, torch.Tensor], None],
        optimizer: torch.optim.Optimizer,
        device: torch.device,
    ) -> None:
        self.step, self.optimizer, self.device = step, optimizer, device
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: tuple[torch.Tensor, torch.Tensor] | None = None
        self.calls = 0
        for group in optimizer.param_groups:
            group["lr"] = torch.tensor(float(group["lr"]), device=device)

    def set_lr(self, lr: float) -> None:
        """Fill every group's rate: ``lr`` times the group's ``lr_scale``, without a sync."""
        for group in self.optimizer.param_groups:
            group["lr"].fill_(lr * group.get("lr_scale", 1.0))

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.calls += 1
        if self.graph is None and self.calls <= WARMUP_STEPS:
            self._eager_on_side_stream(x, y)
        elif self.graph is None:
            self._capture(x, y)
            self.graph.replay()  # capturing records the step without running it
        elif x.shape != self.static[0].shape or y.shape != self.static[1].shape:
            self._eager(x, y)
        else:
            self.static[0].copy_(x, non_blocking=True)
            self.static[1].copy_(y, non_blocking=True)
            self.graph.replay()

    def _eager(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.step(x, y)

    def _eager_on_side_stream(self, x: torch.Tensor, y: torch.Tensor) -> None:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self._eager(x, y)
        torch.cuda.current_stream(self.device).wait_stream(side)

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.static = (x.clone(), y.clone())
        self.optimizer.zero_grad(set_to_none=True)  # the graph's backward allocates them
        torch.cuda.synchronize(self.device)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.step(*self.static)
