"""The evidence step of a scan: thumbnails of each person and Grad-CAM heatmaps of the most suspicious face
crops, computed by the pipeline (`Scanner(evidence=N)`) while the crops are at hand, so that a report only
renders what it is given and never runs a model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from fakescope.options import EVIDENCE_FRAMES
from fakescope.results import Evidence, FileResult, FrameEvidence

if TYPE_CHECKING:
    from fakescope.models import FaceClassifier

log = logging.getLogger(__name__)


def collect_evidence(result: FileResult, classifier: FaceClassifier, top_k: int = EVIDENCE_FRAMES,
                     crops: dict[int, np.ndarray] | None = None) -> Evidence:
    """Thumbnails and Grad-CAM overlays of the most suspicious frames of `result`, from `crops`
    (track_id -> the crops the model scored; default `result.crops`).

    Every person gets at least their single most suspicious frame; with few persons each gets more, up to
    `top_k` in all (or one per person when there are more persons than that). Returns an empty Evidence
    when there are no crops (no face, an error, or crops not kept)."""
    from fakescope.models.explain import gradcam, overlay_heatmap

    crops = result.crops if crops is None else crops
    evidence = Evidence()
    if not crops or not result.persons or top_k < 1:
        return evidence
    per_person = max(1, top_k // len(result.persons))
    picks: list[tuple[int, int]] = []  # (track_id, position in that person's frames)
    for person in sorted(result.persons, key=lambda p: -p.probability):
        mine = crops[person.track_id]
        evidence.thumbnails[person.track_id] = mine[len(mine) // 2]
        order = np.argsort(-np.asarray(person.scores), kind="stable")[:per_person]
        picks.extend((person.track_id, int(i)) for i in order)
    persons = {p.track_id: p for p in result.persons}
    picks.sort(key=lambda pick: -persons[pick[0]].scores[pick[1]])
    chosen = np.stack([crops[tid][i] for tid, i in picks])
    heatmaps = gradcam(classifier, chosen)
    for (tid, i), crop, heat in zip(picks, chosen, heatmaps):
        p = persons[tid]
        evidence.frames.append(FrameEvidence(tid, p.frames[i], p.times[i], p.scores[i], crop,
                                             overlay_heatmap(crop, heat)))
    return evidence


def evidence_step(result: FileResult, classifier: FaceClassifier, top_k: int,
                  crops: dict[int, np.ndarray]) -> Evidence:
    """`collect_evidence` as a pipeline step: a heatmap that fails costs the report its pictures, never the
    file its verdict (the reason goes to the log)."""
    try:
        return collect_evidence(result, classifier, top_k, crops)
    except Exception as exc:  # noqa: BLE001  (Grad-CAM on an architecture it does not know, a torch surprise)
        log.warning("no heatmaps for %s: %s: %s", result.path, type(exc).__name__, exc)
        return Evidence()
