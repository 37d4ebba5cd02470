"""Faces: the YuNet detector on real photos, linking detections into persons, and the crop the model sees."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.errors import FakescopeError
from fakescope.faces import Face, create_detector, crop_face, track_faces
from fakescope.faces.crop import crop_box
from fakescope.faces.track import iou


@pytest.fixture(scope="module")
def detector():
    return create_detector("yunet")


def _face(x: float, y: float, w: float = 100, h: float = 120) -> Face:
    return Face((x, y, w, h), 0.9)


# ---- detection -----------------------------------------------------------------------------------------

def test_one_face_in_the_astronaut_none_in_the_coffee(detector, astronaut: np.ndarray) -> None:
    from skimage import data

    (face,) = detector.detect(astronaut)
    x, y, w, h = face.box
    assert 0 <= x < x + w <= 512 and 0 <= y < y + h <= 512 and 40 < w < 200
    assert face.landmarks.shape == (5, 2)
    assert all(x <= lx <= x + w and y <= ly <= y + h for lx, ly in face.landmarks)
    assert detector.detect(data.coffee()) == []


def test_large_frames_are_detected_small_and_boxes_mapped_back(detector, astronaut: np.ndarray) -> None:
    """A 2048 px frame is scaled to 640 for detection; the box must come back in 2048 px coordinates."""
    (small,) = detector.detect(astronaut)
    (big,) = detector.detect(cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC))
    assert iou(big.box, tuple(v * 4 for v in small.box)) > 0.8


def test_two_people_side_by_side_are_two_faces(detector, astronaut: np.ndarray) -> None:
    pair = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    faces = detector.detect(pair)
    assert len(faces) == 2
    assert sorted(f.center[0] < 512 for f in faces) == [False, True]


def test_thin_strip_does_not_crash_the_detector(detector) -> None:
    assert detector.detect(np.zeros((9000, 2, 3), np.uint8)) == []


def test_unknown_detector_is_a_clear_error() -> None:
    with pytest.raises(FakescopeError, match="unknown face detector"):
        create_detector("nope")


# ---- tracking ------------------------------------------------------------------------------------------

def test_two_faces_side_by_side_stay_two_tracks() -> None:
    rng = np.random.default_rng(0)
    frames = [[_face(100 + rng.normal(0, 3), 50), _face(205 + rng.normal(0, 3), 50)] for _ in range(12)]
    tracks = track_faces(frames)
    assert [t.track_id for t in tracks] == [0, 1]
    for track, x in zip(tracks, (100, 205)):
        assert [pos for pos, _ in track.detections] == list(range(12))
        assert all(abs(face.box[0] - x) < 15 for _, face in track.detections), "the two faces swapped"


def test_detection_order_does_not_swap_identities() -> None:
    """The detector lists faces in any order; identities follow position, not list order."""
    frames = [[_face(100, 50), _face(300, 50)] if i % 2 else [_face(300, 50), _face(100, 50)] for i in range(8)]
    tracks = track_faces(frames)
    assert len(tracks) == 2
    assert {round(f.box[0]) for _, f in tracks[0].detections} == {300}
    assert {round(f.box[0]) for _, f in tracks[1].detections} == {100}


def test_overlapping_faces_in_one_frame_are_never_merged() -> None:
    frames = [[_face(100, 50), _face(150, 50)] for _ in range(6)]  # IoU 1/3 between the two
    tracks = track_faces(frames)
    assert len(tracks) == 2 and all(len(t.detections) == 6 for t in tracks)


@pytest.mark.parametrize("step", [10, 60, 90])
def test_a_moving_face_stays_one_track(step: float) -> None:
    """Sampled frames are far apart: a face may move most of its width between two of them."""
    frames = [[_face(20 + step * i, 40 + step * i / 3)] for i in range(10)]
    (track,) = track_faces(frames)
    assert len(track.detections) == 10


def test_a_face_missed_in_some_frames_stays_one_track() -> None:
    frames = [[_face(100 + 5 * i, 50)] if i % 3 else [] for i in range(12)]
    (track,) = track_faces(frames)
    assert [pos for pos, _ in track.detections] == [i for i in range(12) if i % 3]


def test_a_stray_detection_is_dropped_but_an_image_keeps_every_face() -> None:
    frames = [[_face(100, 50)] for _ in range(32)]
    frames[7].append(_face(400, 300))  # one false positive in one frame of 32
    (track,) = track_faces(frames)
    assert len(track.detections) == 32
    assert len(track_faces([[_face(100, 50), _face(400, 300)]])) == 2


def test_tracks_are_numbered_in_order_of_first_appearance() -> None:
    frames = [[_face(400, 50)], [_face(400, 50)], [_face(400, 50), _face(50, 50)], [_face(400, 50), _face(50, 50)]]
    tracks = track_faces(frames)
    assert [t.track_id for t in tracks] == [0, 1]
    assert tracks[0].detections[0][0] == 0 and tracks[1].detections[0][0] == 2


# ---- crop ----------------------------------------------------------------------------------------------

def test_crop_box_is_a_square_around_the_face_centre() -> None:
    face = _face(100, 50, 80, 120)
    x0, y0, side = crop_box(face, 1.5)
    assert side == 180
    assert (x0 + side / 2, y0 + side / 2) == pytest.approx(face.center, abs=1)


@pytest.mark.parametrize("box", [(200, 150, 80, 100), (-30, -40, 90, 90), (560, 400, 100, 100),
                                 (-100, -100, 900, 700)])
def test_crop_is_square_at_the_requested_size_wherever_the_face_is(box: tuple[float, ...]) -> None:
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    crop = crop_face(image, Face(box, 0.9), 128, 1.2)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8


def test_crop_is_centred_on_the_face() -> None:
    image = np.full((480, 640, 3), 80, np.uint8)
    cv2.circle(image, (300, 200), 6, (255, 0, 0), -1)
    crop = crop_face(image, Face((250, 140, 100, 120), 0.9), 128, 1.1)
    ys, xs = np.nonzero(crop[..., 0] > 200)
    assert (xs.mean(), ys.mean()) == pytest.approx((64, 64), abs=2)


def test_crop_past_the_border_repeats_the_edge_instead_of_black() -> None:
    """Faces at the frame's edge: the square is completed by replicating border pixels, so the model never
    sees a black band that only border faces have."""
    image = np.full((480, 640, 3), 120, np.uint8)
    crop = crop_face(image, Face((-40, -40, 100, 100), 0.9), 64, 1.3)
    assert crop.shape == (64, 64, 3) and crop.min() == 120
    # And the part inside the frame is the frame: a marked pixel region lands where it should.
    image[:30, :30] = (0, 255, 0)
    crop = crop_face(image, Face((0, 0, 60, 60), 0.9), 60, 1.0)
    assert (crop[:25, :25, 1] > 200).all() and (crop[40:, 40:, 1] < 150).all()
