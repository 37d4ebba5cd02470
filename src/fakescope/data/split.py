"""Train / val / test splits that never put a group on two sides.

Labels are per source video and faces repeat across a dataset's videos, so a split by file (or by frame)
lets a model be scored on the very person or clip it trained on, and every figure comes out inflated.
An item's group is one or more keys (`"ffpp:000|ffpp:003"`: the source video, the identities in it); items
sharing any key are joined into one component, and whole components are dealt to the sides, separately for
all-real, all-fake and mixed components so each side gets both classes in about the dataset's proportion.

Some datasets chain most items into one component (Celeb-DF swaps faces among 59 people). Such a component
(more than `max_component` of the items) is split by its keys instead, and the items whose keys land on
different sides are dropped rather than leaked: the count is in the returned stats.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from fakescope.data.crops import CropItem
from fakescope.data.datasets import GROUP_SEP

SIDES = ("train", "val", "test")
DROPPED = ""


@dataclass
class SplitStats:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # side -> {"real": n, "fake": n}
    groups: dict[str, int] = field(default_factory=dict)  # side -> number of components
    dropped: int = 0  # items whose keys straddled sides inside a broken-up giant component
    giant_components: list[int] = field(default_factory=list)  # their sizes, in items


def item_keys(group: str, index: int) -> list[str]:
    keys = [k for k in group.split(GROUP_SEP) if k]
    return keys or [f"item:{index}"]


def _components(keys: list[list[str]]) -> list[int]:
    """Component id of each item: union-find over the keys the items share."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for ks in keys:
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    roots: dict[str, int] = {}
    return [roots.setdefault(find(ks[0]), len(roots)) for ks in keys]


def _deal(units: list[tuple[object, int]], fractions: dict[str, float]) -> dict[object, str]:
    """Give units (id, weight) to val and test until each holds its fraction of the weight, the rest to
    train; a side short of its share takes at least one unit, but train always keeps one."""
    total = sum(w for _, w in units)
    out: dict[object, str] = {}
    rest = list(units)
    for side in ("test", "val"):
        got = 0
        while rest and len(rest) > 1 and fractions[side] > 0 and got < fractions[side] * total:
            unit, weight = rest.pop()
            out[unit] = side
            got += weight
    out.update({unit: "train" for unit, _ in rest})
    return out


def assign_splits(groups: Sequence[str], labels: Sequence[int], val: float = 0.15, test: float = 0.15,
                  seed: int = 0, max_component: float = 0.5) -> tuple[list[str], SplitStats]:
    """Side of each item ("train", "val", "test", or "" when dropped), and what was done."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise ValueError("val and test fractions must be in [0, 1) and sum to less than 1")
    fractions = {"train": 1 - val - test, "val": val, "test": test}
    keys = [item_keys(g, i) for i, g in enumerate(groups)]
    comp = _components(keys)
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(comp):
        members[c].append(i)
    rng = random.Random(seed)
    stats = SplitStats()
    sides = [DROPPED] * len(groups)
    buckets: dict[str, list[tuple[object, int]]] = defaultdict(list)
    for c, idx in sorted(members.items()):
        if len(idx) > max_component * len(groups) and len(members) < len(groups):
            stats.giant_components.append(len(idx))
            weights = Counter(k for i in idx for k in keys[i])
            units = sorted(weights.items())
            rng.shuffle(units)
            by_key = _deal(units, fractions)
            for i in idx:
                item_sides = {by_key[k] for k in keys[i]}
                sides[i] = item_sides.pop() if len(item_sides) == 1 else DROPPED
            continue
        classes = {labels[i] for i in idx}
        buckets["mixed" if len(classes) == 2 else "fake" if 1 in classes else "real"].append((c, len(idx)))
    for name in sorted(buckets):
        units = buckets[name]
        rng.shuffle(units)
        for c, side in _deal(units, fractions).items():
            for i in members[c]:
                sides[i] = side
    stats.dropped = sides.count(DROPPED)
    for side in SIDES:
        idx = [i for i, s in enumerate(sides) if s == side]
        stats.counts[side] = {"real": sum(1 for i in idx if labels[i] == 0),
                              "fake": sum(1 for i in idx if labels[i] == 1)}
        stats.groups[side] = len({comp[i] for i in idx})
    return sides, stats


def leaked_keys(groups: Sequence[str], sides: Sequence[str]) -> set[str]:
    """Group keys found on more than one side (dropped items aside): empty for a sound split."""
    seen: dict[str, set[str]] = defaultdict(set)
    for i, (group, side) in enumerate(zip(groups, sides)):
        if side != DROPPED:
            for k in item_keys(group, i):
                seen[k].add(side)
    return {k for k, s in seen.items() if len(s) > 1}


def spread(items: list, limit: int) -> list:
    """At most `limit` items, evenly spaced through the list: a sorted listing keeps its variety (both
    classes, every dataset), and the same call picks the same items."""
    if not limit or len(items) <= limit:
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def grouped_split(items: Sequence[CropItem], val_fraction: float = 0.15, seed: int = 0
                  ) -> tuple[list[CropItem], list[CropItem]]:
    """Train and val crops for data that came without a split: no group on both sides."""
    sides, _ = assign_splits([it.group for it in items], [it.label for it in items], val=val_fraction, test=0.0,
                             seed=seed)
    return ([it for it, s in zip(items, sides) if s == "train"], [it for it, s in zip(items, sides) if s == "val"])


def train_val(items: Sequence[CropItem], official: bool = False, val_fraction: float = 0.15, seed: int = 0
              ) -> tuple[list[CropItem], list[CropItem]]:
    """The sides training uses: the items' own `train`/`val` split when they carry one (a cache's grouped
    split, or with `official` the dataset's published split), else a grouped split made here."""
    side = (lambda it: it.official_split) if official else (lambda it: it.split)
    if {"train", "val"} <= {side(it) for it in items}:
        return [it for it in items if side(it) == "train"], [it for it in items if side(it) == "val"]
    return grouped_split(items, val_fraction, seed)
