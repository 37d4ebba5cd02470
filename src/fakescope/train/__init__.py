"""Fine-tune a pretrained backbone on labelled face crops; out comes a fakescope checkpoint.

The settings (`TrainConfig`) import without torch; the trainer loads on first use of its names.
"""

from fakescope.train.config import TrainConfig

__all__ = ["TrainConfig", "read_extra_reals", "train_classifier"]


def __getattr__(name: str):
    if name in ("read_extra_reals", "train_classifier"):
        from fakescope.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
