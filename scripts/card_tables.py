"""The README model card's per-source tables, from one `bench/bench_sources.py --json` run.

    python scripts/card_tables.py BENCH.json MODEL --baseline MESONET --before OLD [--before-label "v3"]

MODEL, MESONET and OLD are the names the bench printed (its model arguments). Each cell is MODEL's figure
with the baseline's in brackets; the last column is the model before: AUC / genuine -> FAKE / caught. The
original videos get a row per source and per fake method, the degraded copies per source, FF++ crops per
method. Written so that no figure in the card is copied by hand.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

TITLES = {"original": None, "480p": "480p:", "gray": "Grey:", "crf35": "CRF 35:",
          "ffpp-faces": "FF++ crops (cross-dataset, 1,000 genuine YouTube faces, 250 per method, frame level):"}


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.0f}%"


def _auc(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def table(rows: list[dict], base: dict[str, dict], before: dict[str, dict], before_label: str,
          methods: bool) -> list[str]:
    header = ("| source or method | n genuine / fake | AUC | genuine → FAKE | genuine → UNCERTAIN | fakes caught | "
              f"fakes → UNCERTAIN | {before_label}: AUC / genuine → FAKE / caught |")
    out = [header, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["kind"] != "source" and not methods:
            continue
        b, o = base[r["name"]], before[r["name"]]
        cells = [f"{_auc(r['auc'])} ({_auc(b['auc'])})"]
        cells += [f"{_pct(r[k])} ({_pct(b[k])})" for k in ("genuine_fake", "genuine_uncertain", "fake_caught",
                                                           "fake_uncertain")]
        old = f"{_auc(o['auc'])} / {_pct(o['genuine_fake'])} / {_pct(o['fake_caught'])}"
        out.append(f"| {r['name']} | {r['genuine']} / {r['fake']} | " + " | ".join(cells) + f" | {old} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", type=Path)
    ap.add_argument("model")
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--before", required=True)
    ap.add_argument("--before-label", default="before")
    args = ap.parse_args()
    runs = json.loads(args.bench.read_text())
    lines = []
    for variant, title in TITLES.items():
        if variant not in runs[args.model]:
            continue
        rows = runs[args.model][variant]
        base = {r["name"]: r for r in runs[args.baseline][variant]}
        before = {r["name"]: r for r in runs[args.before][variant]}
        if title:
            lines += ["", title, ""]
        lines += table(rows, base, before, args.before_label, methods=variant in ("original", "ffpp-faces"))
    s = runs[args.model].get("summary")
    if s:
        over = ", ".join(s["mean_auc_over"])
        pooled = 100 * s["genuine_fake_pooled"]
        lines += ["", f"Ship-rule figures: mean AUC {s['mean_auc']:.3f} over {over}; genuine → FAKE pooled {pooled:.2f} %."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
