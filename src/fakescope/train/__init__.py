"""Fine-tune a pretrained backbone on labelled face crops; out comes a fakescope checkpoint."""

from fakescope.train.trainer import TrainConfig, train_classifier

__all__ = ["TrainConfig", "train_classifier"]
