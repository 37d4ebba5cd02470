"""What a training run is told: the settings of `fakescope train` and `train_classifier`, as plain data.

Torch-free, so the command line can take its defaults and choices from here (defined once) without
loading the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

from fakescope.faces.crop import CROP_MARGIN

BALANCING = ("weight", "sample", "none")
# What the backbone learns besides the head: everything, or only its normalisation layers (LayerNorm,
# BatchNorm affine parameters), as published work does for foundation ViTs (GenD, WACV'26): the features
# that transfer across sources stay as they are, and the few parameters that do move cannot memorise DFDC.
TUNING = ("all", "norms")
# Where a pseudo-fake's blending mask comes from: the crop's 5 landmarks (an ellipse without them), or the 468
# points of a face mesh found on each real training crop (faces/landmarks.py; the 5 points where it sees none).
MASKS = ("five", "mesh")


@dataclass
class TrainConfig:
    model: str = "efficientnet_lite0"
    input_size: int = 128
    epochs: int = 6
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    patience: int = 2
    seed: int = 0
    crop_margin: float = CROP_MARGIN  # the one crop policy (fakescope.faces.crop); a cache records its own
    # Crops are stored this much larger than the input so random crops can move and rescale the face.
    load_scale: float = 1.25
    device: str = "auto"
    # Share of every batch made of self-blended pseudo-fakes of real training faces (0 = none, < 1).
    pseudo_fakes: float = 0.0
    # Share of training views damaged as footage is on its way to a user (train/augment.py `degrade`).
    degrade: float = 0.0
    masks: str = "five"  # the pseudo-fakes' blending masks (MASKS)
    # Share of pseudo-fakes blended in the lower face only (nose to chin), as lip-sync tools paste a mouth.
    lower_face: float = 0.0
    # "weight": weigh the loss by the class mix the model actually sees (pseudo-fakes included);
    # "sample": oversample the rarer class of the dataset's crops; "none".
    balance: str = "weight"
    freeze_epochs: int = 0  # epochs that train the classification head alone, backbone frozen
    tune: str = "all"  # after those epochs, what of the backbone learns: "all" or "norms" (TUNING)
    pretrained: bool = True  # ImageNet weights from a registry package (False: random init, for tests)
    # Start from a trained fakescope checkpoint (name or path) instead: fine-tune a detector on new data.
    init: str | None = None
