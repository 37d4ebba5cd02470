"""Each dataset reader on a tiny copy of its layout that the test builds (empty files: readers only list)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakescope.data.datasets import CROP, MEDIA, list_formats, read_dataset
from fakescope.data.split import assign_splits, leaked_keys
from fakescope.errors import FakescopeError


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def by_name(items) -> dict:
    return {it.path.name: it for it in items}


def _metadata_json(root: Path, entries: dict) -> None:
    (root / "metadata.json").write_text(json.dumps(entries))


# The smallest layout of each format with one real and one fake, for the contract test below: a new format
# comes with one here (its own tests say more).
EXAMPLES = {
    "celebdf": lambda root: touch(root, "Celeb-real/id0_0000.mp4", "Celeb-synthesis/id0_id1_0000.mp4"),
    "csv": lambda root: (touch(root, "a.mp4", "b.jpg"),
                         (root / "list.csv").write_text("path,label\na.mp4,real\nb.jpg,fake\n")),
    "dfdc": lambda root: (touch(root, "p/a.mp4", "p/b.mp4"),
                          _metadata_json(root / "p", {"a.mp4": {"label": "REAL"},
                                                      "b.mp4": {"label": "FAKE", "original": "a.mp4"}})),
    "dfdc-faces": lambda root: (touch(root, "faces_224/a.jpg", "faces_224/b.jpg"),
                                (root / "metadata.csv").write_text("videoname,label,original\na.mp4,REAL,\n"
                                                                   "b.mp4,FAKE,a.mp4\n")),
    "ffpp": lambda root: touch(root, "original_sequences/youtube/c23/videos/000.mp4",
                               "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4"),
    "folder": lambda root: touch(root, "real/a.mp4", "fake/b.png"),
    "tmc": lambda root: (touch(root, "a.mp4", "b.mp4"),
                         (root / "train.csv").write_text("filename,label,type\na.mp4,0,1\nb.mp4,1,3\n")),
}


@pytest.mark.parametrize("fmt", list_formats())
def test_every_format_lists_labelled_files_by_the_contract(fmt: str, tmp_path: Path) -> None:
    """What prepare and evaluate rely on from any reader: sorted files under the dataset, both labels, a
    kind, and a group that keeps each file's source together."""
    if fmt not in EXAMPLES:
        pytest.fail(f"format {fmt!r} has no example layout: add one to EXAMPLES in {Path(__file__).name}")
    EXAMPLES[fmt](tmp_path)
    root = tmp_path / "list.csv" if fmt == "csv" else tmp_path
    items = read_dataset(root, fmt)
    assert sorted({it.label for it in items}) == [0, 1]
    assert [str(it.path) for it in items] == sorted(str(it.path) for it in items)
    for it in items:
        assert it.path.is_relative_to(tmp_path) and it.path.exists()
        assert it.kind in (CROP, MEDIA) and it.group and it.dataset
    assert not leaked_keys([it.group for it in items], ["train"] * len(items))


def test_an_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(FakescopeError, match=f"unknown dataset format 'kaggle'; known: {', '.join(list_formats())}"):
        read_dataset(tmp_path, "kaggle")
    with pytest.raises(FakescopeError, match="nothing labelled found"):
        read_dataset(tmp_path, "ffpp")


def test_ffpp_labels_methods_and_identity_pairs(tmp_path: Path) -> None:
    touch(tmp_path, "original_sequences/youtube/c23/videos/000.mp4", "original_sequences/youtube/c23/videos/003.mp4",
          "original_sequences/youtube/c23/videos/100.mp4",
          "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
          "manipulated_sequences/NeuralTextures/c23/videos/003_000.mp4",
          "original_sequences/actors/c23/videos/01__walking_outside.mp4",
          "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking_outside__ABCDEF12.mp4",
          "manipulated_sequences/Deepfakes/c23/videos/readme.txt")
    items = by_name(read_dataset(tmp_path, "ffpp"))
    assert len(items) == 7
    assert items["000.mp4"].label == 0 and items["000.mp4"].method == "" and items["000.mp4"].group == "ffpp:000"
    fake = items["000_003.mp4"]
    assert (fake.label, fake.method, fake.dataset, fake.video) == (1, "Deepfakes", "FF++ c23", "000_003")
    assert fake.group == "ffpp:000|ffpp:003" and fake.kind == MEDIA
    assert items["003_000.mp4"].method == "NeuralTextures"
    assert items["01_02__walking_outside__ABCDEF12.mp4"].group == "ffpp-actor:01|ffpp-actor:02"
    assert items["01__walking_outside.mp4"].group == "ffpp-actor:01"


def test_ffpp_split_keeps_both_people_of_a_swap_together(tmp_path: Path) -> None:
    names = []
    for i in range(0, 40, 2):
        a, b = f"{i:03d}", f"{i + 1:03d}"
        names += [f"original_sequences/youtube/c23/videos/{a}.mp4", f"original_sequences/youtube/c23/videos/{b}.mp4",
                  f"manipulated_sequences/Deepfakes/c23/videos/{a}_{b}.mp4",
                  f"manipulated_sequences/FaceSwap/c23/videos/{b}_{a}.mp4"]
    touch(tmp_path, *names)
    items = read_dataset(tmp_path, "ffpp")
    sides, stats = assign_splits([it.group for it in items], [it.label for it in items], 0.2, 0.2, seed=1)
    assert not leaked_keys([it.group for it in items], sides)
    side = dict(zip((it.video for it in items), sides))
    assert side["000"] == side["001"] == side["000_001"] == side["001_000"]
    assert stats.dropped == 0 and all(stats.counts[s]["real"] and stats.counts[s]["fake"] for s in stats.counts)


def test_celebdf_identities_and_official_test_list(tmp_path: Path) -> None:
    touch(tmp_path, "Celeb-real/id0_0000.mp4", "Celeb-real/id1_0001.mp4", "YouTube-real/00001.mp4",
          "Celeb-synthesis/id0_id1_0000.mp4", "Celeb-synthesis/id1_id0_0001.mp4")
    (tmp_path / "List_of_testing_videos.txt").write_text("1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id1_id0_0001.mp4\n")
    items = by_name(read_dataset(tmp_path, "celebdf"))
    assert items["id0_0000.mp4"].group == "celebdf:id0" and items["id0_0000.mp4"].label == 0
    assert items["00001.mp4"].group == "celebdf-yt:00001"
    swap = items["id0_id1_0000.mp4"]
    assert (swap.label, swap.method, swap.group) == (1, "Celeb-synthesis", "celebdf:id0|celebdf:id1")
    assert {n for n, it in items.items() if it.official_split == "test"} == {"00001.mp4", "id1_id0_0001.mp4"}
    assert items["id0_0000.mp4"].official_split == "train"


def test_celebdf_bad_test_list_is_one_clear_error(tmp_path: Path) -> None:
    touch(tmp_path, "Celeb-real/id0_0000.mp4")
    (tmp_path / "List_of_testing_videos.txt").write_text("YouTube-real/00001.mp4\n")
    with pytest.raises(FakescopeError, match=r"List_of_testing_videos.txt:1: expected"):
        read_dataset(tmp_path, "celebdf")


def test_celebdf_chained_identities_are_split_by_key_without_leaks() -> None:
    """59 people swapped pairwise chain into one component: it is split by identity, straddlers dropped."""
    groups, labels = [], []
    for a in range(20):
        groups.append(f"celebdf:id{a}")
        labels.append(0)
        for b in (a + 1, a + 2):
            groups.append(f"celebdf:id{a}|celebdf:id{b % 20}")
            labels.append(1)
    sides, stats = assign_splits(groups, labels, 0.2, 0.2, seed=0)
    assert stats.giant_components == [len(groups)]
    assert not leaked_keys(groups, sides)
    assert 0 < stats.dropped < len(groups) and sides.count("train") > sides.count("test") > 0


def test_dfdc_metadata_groups_fakes_with_their_original(tmp_path: Path) -> None:
    part = tmp_path / "dfdc_train_part_0"
    touch(part, "aaa.mp4", "bbb.mp4", "ccc.mp4")
    (part / "metadata.json").write_text(json.dumps({
        "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
        "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
        "ccc.mp4": {"label": "FAKE", "split": "train", "original": "zzz.mp4"}}))
    items = by_name(read_dataset(tmp_path, "dfdc"))
    assert items["aaa.mp4"].label == 0 and items["bbb.mp4"].label == 1
    assert items["aaa.mp4"].group == items["bbb.mp4"].group == "dfdc:aaa"
    assert items["ccc.mp4"].group == "dfdc:zzz" and items["ccc.mp4"].official_split == "train"


@pytest.mark.parametrize(("text", "words"), [("{not json", "not readable JSON"),
                                             ('{"a.mp4": {"label": "MAYBE"}}', "label must be REAL or FAKE")])
def test_dfdc_bad_metadata_is_one_clear_error(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "metadata.json").write_text(text)
    with pytest.raises(FakescopeError, match=words):
        read_dataset(tmp_path, "dfdc")


def test_dfdc_faces_reads_the_kaggle_layout_as_ready_crops(tmp_path: Path) -> None:
    touch(tmp_path, "faces_224/aaa.jpg", "faces_224/bbb.jpg")
    (tmp_path / "metadata.csv").write_text("videoname,original_width,original_height,label,original\n"
                                           "aaa.mp4,1920,1080,REAL,\nbbb.mp4,1920,1080,FAKE,aaa.mp4\n")
    items = by_name(read_dataset(tmp_path, "dfdc-faces"))
    assert items["aaa.jpg"].kind == items["bbb.jpg"].kind == CROP
    assert items["bbb.jpg"].label == 1 and items["bbb.jpg"].group == items["aaa.jpg"].group == "dfdc:aaa"
    (tmp_path / "metadata.csv").unlink()
    with pytest.raises(FakescopeError, match="no metadata.csv"):
        read_dataset(tmp_path, "dfdc-faces")


def test_tmc_face_label_comes_from_the_video_type(tmp_path: Path) -> None:
    touch(tmp_path, "videos/t1.mp4", "videos/t2.mp4", "videos/t3.mp4", "videos/t4.mp4", "videos/nt.mp4")
    (tmp_path / "train.csv").write_text("filename,label,type\nt1.mp4,0,1\nt2.mp4,1,2\nt3,1,3\nt4.mp4,1,4\nnt.mp4,1,\n")
    items = by_name(read_dataset(tmp_path, "tmc"))
    assert {n: it.label for n, it in items.items()} == {"t1.mp4": 0, "t2.mp4": 1, "t3.mp4": 1, "t4.mp4": 0,
                                                         "nt.mp4": 1}
    assert items["t4.mp4"].method == "type 4" and items["t3.mp4"].path == tmp_path / "videos" / "t3.mp4"
    (tmp_path / "train.csv").write_text("filename,label,type\nt1.mp4,0,7\n")
    with pytest.raises(FakescopeError, match="video type must be 1-4"):
        read_dataset(tmp_path, "tmc")


def test_folder_mixes_videos_and_crops_and_takes_methods_from_subfolders(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.mp4", "real/b.jpg", "fake/Deepfakes/c.mp4", "fake/d.png", "fake/notes.txt")
    items = by_name(read_dataset(tmp_path, "folder"))
    assert set(items) == {"a.mp4", "b.jpg", "c.mp4", "d.png"}
    assert items["a.mp4"].kind == MEDIA and items["b.jpg"].kind == CROP
    assert items["c.mp4"].method == "Deepfakes" and items["d.png"].method == ""
    assert len({it.group for it in items.values()}) == 4


def test_csv_reads_groups_and_splits_and_refuses_other_files(tmp_path: Path) -> None:
    touch(tmp_path, "v/a.mp4", "v/b.jpg")
    table = tmp_path / "list.csv"
    table.write_text("path,label,group,split,method\nv/a.mp4,real,p1,train,\nv/b.jpg,fake,p1,test,GAN\n")
    items = by_name(read_dataset(table, "csv"))
    assert items["a.mp4"].group == items["b.jpg"].group == "p1"
    assert items["b.jpg"].official_split == "test" and items["b.jpg"].method == "GAN" and items["b.jpg"].label == 1
    table.write_text("path,label\nv/notes.txt,real\n")
    with pytest.raises(FakescopeError, match="neither an image nor a video"):
        read_dataset(table, "csv")
    with pytest.raises(FakescopeError, match="needs a CSV"):
        read_dataset(tmp_path, "csv")


def test_prefixes_keep_only_the_paths_under_them(tmp_path: Path) -> None:
    touch(tmp_path, "a/x.mp4", "b/y.mp4", "c/z.mp4")
    table = tmp_path / "list.csv"
    table.write_text("path,label\na/x.mp4,real\nb/y.mp4,fake\nc/z.mp4,fake\n")
    assert [it.path.name for it in read_dataset(table, "csv", "b/")] == ["y.mp4"]
    assert [it.path.name for it in read_dataset(table, "csv", ["a/", "c/"])] == ["x.mp4", "z.mp4"]
    with pytest.raises(FakescopeError, match="nothing under 'd/'"):
        read_dataset(table, "csv", "d/")
