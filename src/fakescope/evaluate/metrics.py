"""Binary detection metrics in plain numpy (label 1 = fake, score = probability of fake)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from fakescope.models.classifier import temperature_scaled


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError("labels and scores differ in length")
    return y, s


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds, from the highest threshold down."""
    y, s = _check(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(y.sum(), 1)]
    fpr = np.r_[0.0, fps / max(len(y) - y.sum(), 1)]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve, ties counted as half (Mann-Whitney). NaN when one class is absent."""
    y, s = _check(labels, scores)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


BOOTSTRAP_RESAMPLES = 1000  # resamples behind every AUC interval; the seed is fixed, so a report repeats
INTERVAL_LEVEL = 0.95


def _resampled_aucs(y: np.ndarray, scores: list[np.ndarray], resamples: int, seed: int) -> np.ndarray:
    """The AUC of each score vector on the same `resamples` bootstrap draws, shape (resamples, len(scores)).

    Genuine and fake items are drawn apart, each with its own count, so every draw holds both classes in
    the proportion measured. A draw is a vector of counts, and a draw's AUC is the count-weighted
    Mann-Whitney statistic: per fake, the weighted number of genuine items scored below it (ties half),
    read from cumulative counts over the genuine scores sorted once."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos, n_neg = len(pos), len(neg)
    ranked = []  # per score vector: the genuine items' order, and where each fake falls among them
    for s in scores:
        order = np.argsort(s[neg], kind="mergesort")
        sorted_neg = s[neg][order]
        ranked.append((order, np.searchsorted(sorted_neg, s[pos], "left"),
                       np.searchsorted(sorted_neg, s[pos], "right")))
    chunk = max(1, 4_000_000 // max(n_pos, n_neg))  # bounds the (draws, items) arrays at a few tens of MB
    out = np.empty((resamples, len(scores)))
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        w_pos = rng.multinomial(n_pos, np.full(n_pos, 1 / n_pos), size=b).astype(np.float64)
        w_neg = rng.multinomial(n_neg, np.full(n_neg, 1 / n_neg), size=b).astype(np.float64)
        for k, (order, lt, le) in enumerate(ranked):
            cum = np.concatenate([np.zeros((b, 1)), np.cumsum(w_neg[:, order], axis=1)], axis=1)
            below = cum[:, lt]
            out[start:start + b, k] = np.sum(w_pos * (below + 0.5 * (cum[:, le] - below)), axis=1) / (n_pos * n_neg)
    return out


def auc_interval(labels, scores, level: float = INTERVAL_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC AUC (genuine and fake items resampled apart). It says how
    far a figure on a few dozen videos could move with other videos of the same kind: (NaN, NaN) when one
    class is absent. It only redraws the items at hand, so where they are perfectly separated (AUC 1) or a
    class holds one item, every draw agrees and the interval collapses to a point: read the n too."""
    y, s = _check(labels, scores)
    if y.sum() == 0 or y.sum() == len(y):
        return float("nan"), float("nan")
    aucs = _resampled_aucs(y, [s], resamples, seed)[:, 0]
    return tuple(float(q) for q in np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2]))


def auc_difference(labels, scores_a, scores_b, level: float = INTERVAL_LEVEL,
                   resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """AUC(b) - AUC(a) for two models scored on the same items, with its paired percentile bootstrap
    interval: both are scored on each draw, so what the items share cancels, and the interval is far
    narrower than two separate ones would suggest. (NaN, NaN, NaN) when one class is absent."""
    y, a = _check(labels, scores_a)
    _, b = _check(labels, scores_b)
    if y.sum() == 0 or y.sum() == len(y):
        return float("nan"), float("nan"), float("nan")
    aucs = _resampled_aucs(y, [a, b], resamples, seed)
    lo, hi = np.quantile(aucs[:, 1] - aucs[:, 0], [(1 - level) / 2, (1 + level) / 2])
    return roc_auc(y, b) - roc_auc(y, a), float(lo), float(hi)


def proportion_interval(k: int, n: int, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a share k / n (how many genuine videos were called FAKE): unlike k / n ± a
    normal margin it stays inside [0, 1] and is not empty at k = 0, where "0 of 26" still allows about 13 %.
    (NaN, NaN) for n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf((1 + level) / 2)
    p, z2 = k / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision at each distinct threshold, highest first (precision 1 before the first hit)."""
    y, s = _check(labels, scores)
    fpr, tpr, _ = roc_curve(y, s)
    tp = tpr * y.sum()
    fp = fpr * (len(y) - y.sum())
    return tpr, np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)


def average_precision(labels, scores) -> float:
    """Area under the precision-recall curve as the step sum of precision at each recall gain."""
    y, s = _check(labels, scores)
    if y.sum() == 0:
        return float("nan")
    recall, precision = precision_recall_curve(y, s)
    return float(np.sum(np.diff(recall) * precision[1:]))


def equal_error_rate(labels, scores) -> float:
    """Where the false-positive and false-negative rates meet (linear between ROC points)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.nonzero(fnr <= fpr)[0][0])
    if i == 0:
        return float(fpr[0])
    d0, d1 = fpr[i - 1] - fnr[i - 1], fpr[i] - fnr[i]
    t = d0 / (d0 - d1)
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def log_loss(labels, probs, eps: float = 1e-7) -> float:
    y, p = _check(labels, probs)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reliability_bins(labels, probs, bins: int = 10) -> list[dict]:
    """Per equal-width probability bin: its range, how many predictions fell in, their mean probability
    and the share of them that were fake (the points of a reliability diagram)."""
    y, p = _check(labels, probs)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": int(m.sum()),
                    "mean_prob": float(p[m].mean()) if m.any() else float("nan"),
                    "fake_rate": float(y[m].mean()) if m.any() else float("nan")})
    return out


def expected_calibration_error(labels, probs, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size."""
    y, _ = _check(labels, probs)
    return float(sum(b["count"] / len(y) * abs(b["fake_rate"] - b["mean_prob"])
                     for b in reliability_bins(labels, probs, bins) if b["count"]))


def fit_temperature(labels, logits) -> float:
    """Temperature T minimising the log loss of sigmoid(logit / T): one scalar, so ranking (AUC) is kept."""
    y, z = _check(labels, logits)

    def nll(t: float) -> float:
        return log_loss(y, temperature_scaled(z, t))

    lo, hi = np.log(0.05), np.log(20.0)
    for _ in range(60):  # golden-section search on log T
        a, b = hi - (hi - lo) / 1.618, lo + (hi - lo) / 1.618
        if nll(np.exp(a)) < nll(np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def binary_report(labels, probs, threshold: float = 0.5) -> dict[str, float | int | list]:
    """The usual table at one threshold, plus the threshold-free AUC, AP and EER."""
    y, p = _check(labels, probs)
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return {
        "n": len(y), "n_fake": int(y.sum()), "n_real": int(len(y) - y.sum()),
        "auc": roc_auc(y, p), "ap": average_precision(y, p),
        "eer": equal_error_rate(y, p) if 0 < y.sum() < len(y) else float("nan"),
        "log_loss": log_loss(y, p), "ece": expected_calibration_error(y, p),
        "threshold": threshold, "accuracy": ratio(tp + tn, len(y)),
        "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
