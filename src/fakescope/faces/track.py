"""Link detections across sampled frames into persons.

Sampled frames are a third of a second or more apart, so we match greedily on box overlap, falling back
to centre distance relative to face size (a head that moved further than its IoU can follow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakescope.faces.base import Face


@dataclass
class Track:
    track_id: int
    detections: list[tuple[int, Face]] = field(default_factory=list)  # (sample position, face)

    @property
    def last(self) -> Face:
        return self.detections[-1][1]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _affinity(track: Track, face: Face) -> float:
    """Overlap, or for non-overlapping boxes a small score that falls with centre distance in face sizes."""
    overlap = iou(track.last.box, face.box)
    if overlap > 0:
        return 1.0 + overlap
    (tx, ty), (fx, fy) = track.last.center, face.center
    size = max(track.last.box[2], track.last.box[3], face.box[2], face.box[3])
    dist = ((tx - fx) ** 2 + (ty - fy) ** 2) ** 0.5 / size
    return 1.0 - dist if dist < 1.0 else 0.0


def track_faces(per_frame: list[list[Face]], min_hits: int = 2, min_fraction: float = 0.1) -> list[Track]:
    """Tracks in order of first appearance, renumbered from 0. A track seen in fewer than `min_hits`
    frames and in less than `min_fraction` of frames is dropped as a stray detection; with a single
    frame (an image) every face is a track."""
    tracks: list[Track] = []
    for pos, faces in enumerate(per_frame):
        pairs = sorted(((_affinity(t, f), ti, fi) for ti, t in enumerate(tracks) for fi, f in enumerate(faces)),
                       reverse=True)
        used_t, used_f = set(), set()
        for score, ti, fi in pairs:
            if score <= 0 or ti in used_t or fi in used_f:
                continue
            if tracks[ti].detections[-1][0] == pos:
                continue
            tracks[ti].detections.append((pos, faces[fi]))
            used_t.add(ti)
            used_f.add(fi)
        for fi, face in enumerate(faces):
            if fi not in used_f:
                tracks.append(Track(len(tracks), [(pos, face)]))
    if len(per_frame) > 1:
        need = min(min_hits, max(1, int(min_fraction * len(per_frame))))
        tracks = [t for t in tracks if len(t.detections) >= need]
    for i, t in enumerate(tracks):
        t.track_id = i
    return tracks
