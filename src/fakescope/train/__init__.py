"""Fine-tune a pretrained backbone on labelled face crops; out comes a fakescope checkpoint."""

from fakescope.train.trainer import TrainConfig, read_extra_reals, train_classifier

__all__ = ["TrainConfig", "read_extra_reals", "train_classifier"]
