"""Labelled face crops for training and evaluation: readers and a split that never leaks a group."""

from fakescope.data.crops import CropItem, grouped_split, load_crop_images, read_crops

__all__ = ["CropItem", "grouped_split", "load_crop_images", "read_crops"]
