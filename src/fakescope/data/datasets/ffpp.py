"""FaceForensics++ (Rössler et al., ICCV 2019) as downloaded by its script:

    original_sequences/youtube/<c23>/videos/000.mp4
    original_sequences/actors/<c23>/videos/01__exit_phone_room.mp4           (DeepFakeDetection reals)
    manipulated_sequences/<Method>/<c23>/videos/000_003.mp4                   (target 000, source face 003)
    manipulated_sequences/DeepFakeDetection/<c23>/videos/01_02__exit_phone_room__YVGY8LOK.mp4

A fake shows one identity's face on another's video, so both ids go into its group: a model that saw
000 (as a real or as either side of a swap) must not be scored on a video of 000.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import SourceItem, join_keys, register_reader
from fakescope.media import VIDEO_SUFFIXES


def _ids(stem: str, actors: bool) -> list[str]:
    """Identity ids in a file stem: '000_003' -> ['000', '003']; '01_02__scene__X' -> ['01', '02']."""
    ids = stem.split("__")[0].split("_") if actors else stem.split("_")
    prefix = "ffpp-actor:" if actors else "ffpp:"
    return [prefix + i for i in ids]


def _videos(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*/*/videos/*") if p.suffix.lower() in VIDEO_SUFFIXES]


@register_reader("ffpp")
def read_ffpp(root: Path) -> list[SourceItem]:
    items = []
    for path in _videos(root / "original_sequences"):
        actors = path.parents[2].name == "actors"
        compression = path.parents[1].name
        items.append(SourceItem(path, 0, f"FF++ {compression}", "", path.stem, join_keys(*_ids(path.stem, actors))))
    for path in _videos(root / "manipulated_sequences"):
        method, compression = path.parents[2].name, path.parents[1].name
        actors = method == "DeepFakeDetection"
        items.append(SourceItem(path, 1, f"FF++ {compression}", method, path.stem,
                                join_keys(*_ids(path.stem, actors))))
    return items
