"""The served architecture: the cookbook's SimpleNeuralNet (10 -> 16 -> 16 -> 1, sigmoid)."""

import torch
from torch import nn


class SimpleNeuralNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.sequential = nn.Sequential(
            nn.Linear(10, 16),
            nn.ReLU(),
            nn.Linear(16, 16),
            nn.ReLU(),
            nn.Linear(16, 1),
            nn.Dropout(0.1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequential(x)
