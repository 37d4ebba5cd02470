"""Self-blended images (Shiohara & Yamasaki, CVPR 2022): pseudo-fakes made from a real face alone.

A copy of the face is changed slightly (colour, sharpness or resolution, a small shift and rescale) and
blended back into the original inside a soft face-shaped mask. What is left to see is what every face swap
leaves: a blending boundary and a mismatch of colour and frequency between the inner face and its
surroundings, without the artefacts of any one generator. Trained on real FF++ faces alone, the paper
reports a video-level AUC of 93% on Celeb-DF v2: a detector that generalises, unlike one that learns the
quirks of the fakes it was shown.

A share of the pseudo-fakes (`lower_face`, `fakescope train --lower-face`) is blended in the lower face
only, nose to chin: what lip-sync tools (Wav2Lip, MuseTalk, video-retalking) and FF++'s NeuralTextures
change, a generated mouth and jaw pasted into footage that is otherwise untouched. A model that only ever saw
whole-face blends has no reason to look for a boundary across the cheeks.

The mask follows the face's own outline when the 468 points of a face mesh are known (faces/landmarks.py,
`fakescope train --masks mesh`): their hull, brows to chin or with the forehead, as the paper's 81 dlib
points give. Otherwise it comes from the five YuNet landmarks (eyes, nose, mouth corners), extended to cover
brows, cheeks and chin; without landmarks, an ellipse where the crop policy puts the face. Everything outside the mask is
the original pixels, untouched: the label "fake" can only be learnt from inside it.
"""

from __future__ import annotations

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's: mostly opaque, sometimes a faint blend


def _odd(x: float) -> int:
    return max(3, int(x) // 2 * 2 + 1)


def face_hull(landmarks: np.ndarray, rng: np.random.Generator, lower: bool = False) -> np.ndarray:
    """Polygon around the face from 5 landmarks in pixels (right eye, left eye, nose, mouth corners):
    brows above the eyes, temples, cheeks, jaw and chin, each pushed out by a random amount. `lower`: the
    part from just above the nose tip down (cheeks, mouth, jaw, chin), where a lip-sync tool pastes."""
    eye_r, eye_l, nose, mouth_r, mouth_l = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes, mouth = (eye_r + eye_l) / 2, (mouth_r + mouth_l) / 2
    d = max(np.linalg.norm(mouth - eyes), 1.0)
    iod = max(np.linalg.norm(eye_l - eye_r), 1.0)
    down, across = (mouth - eyes) / d, (eye_l - eye_r) / iod

    def s() -> float:
        return rng.uniform(0.85, 1.1)

    upper = [] if lower else [
        eye_r - 0.6 * d * s() * down - 0.2 * iod * across, eye_l - 0.6 * d * s() * down + 0.2 * iod * across,
        eye_r - 0.5 * iod * s() * across, eye_l + 0.5 * iod * s() * across,
    ]
    below = [
        nose - 0.85 * iod * s() * across, nose + 0.85 * iod * s() * across,
        mouth_r - 0.35 * iod * s() * across + 0.35 * d * s() * down,
        mouth_l + 0.35 * iod * s() * across + 0.35 * d * s() * down,
        mouth + 0.8 * d * s() * down,
    ]
    if lower:  # the top edge crosses the nose, not the eyes
        lift = 0.25 * d * rng.uniform(0.6, 1.2) * down
        below = [below[0] - lift, below[1] - lift, nose - lift] + below[2:]
    points = upper + below
    return cv2.convexHull(np.round(points).astype(np.int32))


# Face mesh points (MediaPipe's numbering) that place the hull: eye corners, lip centre, the top of the brows.
MESH_EYES = (33, 133, 362, 263)
MESH_MOUTH = (13, 14)
MESH_NOSE_TIP = 1
MESH_BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
FOREHEAD_SHARE = 0.5  # of mesh hulls that keep the forehead; the rest stop at the brows


def mesh_hull(points: np.ndarray, rng: np.random.Generator, lower: bool = False) -> np.ndarray:
    """Polygon around the face from its 468 mesh points in pixels: their hull, with the forehead or cut at
    the brows (`lower`: cut just above the nose tip), each vertex pushed in or out a little so no two masks
    share an outline."""
    pts = np.asarray(points, np.float64)
    eyes, mouth = pts[list(MESH_EYES)].mean(axis=0), pts[list(MESH_MOUTH)].mean(axis=0)
    d = max(np.linalg.norm(mouth - eyes), 1.0)
    down = (mouth - eyes) / d
    if lower:
        depth = pts @ down
        pts = pts[depth >= pts[MESH_NOSE_TIP] @ down - 0.25 * d * rng.uniform(0.6, 1.2)]
    elif rng.random() >= FOREHEAD_SHARE:
        depth = pts @ down
        pts = pts[depth >= (pts[list(MESH_BROWS)] @ down).min()]
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    centre = hull.mean(axis=0)
    hull = centre + (hull - centre) * rng.uniform(0.92, 1.05) * rng.uniform(0.97, 1.03, size=(len(hull), 1))
    return cv2.convexHull(np.round(hull).astype(np.int32))


def face_mask(shape: tuple[int, int], landmarks: np.ndarray | None, rng: np.random.Generator,
              lower: bool = False) -> np.ndarray:
    """Soft (H, W) float32 mask in [0, 1]: the face hull (from 468 mesh points or 5 landmarks, in pixels) or
    an ellipse, randomly grown or shrunk, blurred, and scaled by a blend ratio. `lower`: nose to chin only."""
    h, w = shape
    hard = np.zeros((h, w), np.uint8)
    if landmarks is not None:
        hull = face_hull(landmarks, rng, lower) if len(landmarks) == 5 else mesh_hull(landmarks, rng, lower)
        cv2.fillConvexPoly(hard, hull, 1)
    else:  # the crop policy centres the face; its box spans about 1/margin of the crop
        axes = (int(w * 0.36 * rng.uniform(0.85, 1.0)), int(h * 0.44 * rng.uniform(0.85, 1.0)))
        cv2.ellipse(hard, (w // 2, int(h * 0.53)), axes, rng.uniform(-10, 10), 0, 360, 1, -1)
        if lower:  # the crop policy puts the nose tip a little below the middle
            hard[: int(h * 0.55)] = 0
    k = _odd(min(h, w) * rng.uniform(0.02, 0.08))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    hard = cv2.erode(hard, kernel) if rng.random() < 0.5 else cv2.dilate(hard, kernel)
    sigma = min(h, w) * rng.uniform(0.015, 0.04)
    soft = cv2.GaussianBlur(hard.astype(np.float32), (_odd(4 * sigma), _odd(4 * sigma)), sigma)
    return np.clip(soft * rng.choice(BLEND_RATIOS), 0, 1)


def _colour_shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180
    hsv[..., 1:] *= rng.uniform(0.85, 1.15, size=2)
    f = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    f = f * rng.uniform(0.9, 1.1) + rng.uniform(-12, 12, size=3)
    return np.clip(f, 0, 255).astype(np.uint8)


def _frequency_shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    if rng.random() < 0.5:  # a lower-resolution face pasted in
        f = rng.uniform(0.3, 0.7)
        small = cv2.resize(img, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.5))  # an over-sharpened one
    return cv2.addWeighted(img, 1.6, blur, -0.6, 0)


def _shift_scale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    m[:, 2] += rng.uniform(-0.03, 0.03, size=2) * (w, h)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(img: np.ndarray, landmarks: tuple[float, ...] | np.ndarray | None, rng: np.random.Generator,
               lower_face: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A pseudo-fake of an (H, W, 3) uint8 face crop and the mask it was blended with.

    `landmarks`: in fractions of the crop's width and height, the 5 points as x0, y0, ... x4, y4 (what the
    manifest stores) or the (468, 2) points of a face mesh; None for the elliptical fallback. `lower_face`:
    the chance that the blend covers the lower face only (nose to chin). Pixels where the mask is 0 are
    returned as they were."""
    h, w = img.shape[:2]
    points = None if landmarks is None else np.asarray(landmarks, np.float64).reshape(-1, 2) * (w, h)
    mask = face_mask((h, w), points, rng, lower=bool(lower_face) and rng.random() < lower_face)
    source = _shift_scale(_frequency_shift(_colour_shift(img, rng), rng), rng)
    out = source.astype(np.float32) * mask[..., None] + img.astype(np.float32) * (1 - mask[..., None])
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    out[mask == 0] = img[mask == 0]
    return out, mask
