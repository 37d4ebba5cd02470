"""Metrics for detectors. Every figure says whether it is frame-level or video-level where it is reported."""

from fakescope.evaluate.metrics import (
    average_precision,
    binary_report,
    expected_calibration_error,
    fit_temperature,
    log_loss,
    roc_auc,
)

__all__ = ["average_precision", "binary_report", "expected_calibration_error", "fit_temperature", "log_loss",
           "roc_auc"]
