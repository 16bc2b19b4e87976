"""A tiny network without BatchNorm or dropout, registered for the training tests: its
updates do not depend on how a batch is split (accumulation, DDP)."""

from __future__ import annotations

import torch
from torch import nn

from moderncnn.models import ConvNet, list_models, register_model


class TinyNet(ConvNet):
    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__(num_classes, in_chans)
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4)
        )
        self.fc = nn.Linear(8 * 8 * 8, num_classes)
        self.classifier_widths = {"fc": 8 * 8 * 8}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.check_input(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(x, 1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


if "tiny_test_net" not in list_models():

    @register_model(
        family="test",
        paper="none",
        year=2026,
        depth=2,
        input_size=(3, 32, 32),
        dataset="cifar10",
        num_classes=10,
    )
    def tiny_test_net(num_classes: int, in_chans: int) -> TinyNet:
        return TinyNet(num_classes, in_chans)
