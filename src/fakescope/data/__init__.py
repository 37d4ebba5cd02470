"""Labelled face crops for training and evaluation: readers and a split that never leaks a group."""

from fakescope.data.crops import CropItem, load_crop_images, read_crops
from fakescope.data.split import assign_splits, grouped_split, train_val

__all__ = ["CropItem", "assign_splits", "grouped_split", "load_crop_images", "read_crops",
           "train_val"]
