"""Damage done to footage on its way to a user (media/degrade.py), the operations `fakescope prepare
--degrade`, the trainer and the benchmark share: a re-encode that really goes through the codec, recipes
that are never empty and never upscale, and what each recipe says it did."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from fakescope.media import degrade as dg
from fakescope.media.degrade import FrameDamage, downscale, grey, has_codec, reencode


@pytest.fixture(scope="module")
def clip(astronaut: np.ndarray) -> list[np.ndarray]:
    """Eight frames of a panning shot, at an odd size (the encoder needs even ones)."""
    return [np.ascontiguousarray(np.roll(astronaut, 6 * i, axis=1)[:301, :403]) for i in range(8)]


@pytest.mark.parametrize("codec,name", [("libx264", "h264"), ("libx265", "hevc")])
def test_reencode_goes_through_the_codec(clip: list[np.ndarray], codec: str, name: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if not has_codec(codec):
        pytest.skip(f"this PyAV build has no {codec}")
    streams = []
    real = dg.write_video

    def spy(buf: io.BytesIO, frames, **kw) -> None:
        real(buf, frames, **kw)
        with av.open(io.BytesIO(buf.getvalue())) as c:
            streams.append((c.streams.video[0].codec_context.name, c.streams.video[0].frames))

    monkeypatch.setattr(dg, "write_video", spy)
    low, high = reencode(clip, codec, 40), reencode(clip, codec, 20)
    assert [s[0] for s in streams] == [name, name]
    assert len(low) == len(clip) and all(f.shape == clip[0].shape and f.dtype == np.uint8 for f in low)
    err_low = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(low, clip)])
    err_high = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(high, clip)])
    assert err_low > err_high > 0.3, "a higher CRF loses more"


def test_downscale_keeps_aspect_with_an_even_width() -> None:
    img = np.zeros((1080, 1920, 3), np.uint8)
    assert downscale(img, 240).shape == (240, 426, 3)
    assert downscale(np.zeros((908, 480, 3), np.uint8), 480).shape == (480, 254, 3)


def test_grey_is_luma_in_three_channels(astronaut: np.ndarray) -> None:
    g = grey(astronaut)
    assert g.shape == astronaut.shape and (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    pure_green = np.zeros((2, 2, 3), np.uint8)
    pure_green[..., 1] = 255
    assert grey(pure_green)[0, 0, 0] == 150  # 0.587 * 255: luma, not the channels' mean (85)


def test_recipes_are_never_empty_and_never_upscale() -> None:
    rng = np.random.default_rng(0)
    recipes = [FrameDamage.sample(rng, 360) for _ in range(300)]
    assert all(r.label for r in recipes)
    assert all(r.height is None or 240 <= r.height < 360 for r in recipes)
    assert {r.codec for r in recipes} >= {"libx264", None}
    assert all(r.codec != "jpeg" for r in recipes)
    assert {FrameDamage.sample(rng, 240).height for _ in range(50)} == {None}, "240p is not made smaller"
    stills = [FrameDamage.sample(rng, 1080, still=True) for _ in range(100)]
    assert {r.codec for r in stills} == {"jpeg", None}, "a picture is re-saved as JPEG, not as video"


def test_a_recipe_does_what_its_label_says(clip: list[np.ndarray]) -> None:
    damage = FrameDamage(height=240, blur=(5, 30.0), gamma=(1.3, (1.1, 1.0, 0.9)), noise=4.0, grey=True,
                         codec="libx264", quality=36)
    assert damage.label == "240p+blur5+gamma+noise4+grey+h264crf36"
    out = damage.apply(clip)
    assert len(out) == len(clip) and out[0].shape == (240, 322, 3)
    assert all((f[..., 0].astype(int) - f[..., 2]).std() < 3 for f in out), "grey survives the codec's 4:2:0"
    assert not np.array_equal(out[0], out[1])
    assert np.array_equal(damage.apply(clip)[3], out[3]), "the noise is seeded"
    assert FrameDamage().label == "" and FrameDamage(codec="jpeg", quality=30).label == "jpeg30"
