"""Training, with an optional attack on every batch (the hook for adversarial training)."""

from feint.training.config import TrainConfig
from feint.training.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
