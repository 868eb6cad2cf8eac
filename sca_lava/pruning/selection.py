"""The structure a budget allows: which channels an update keeps.

Pure numpy (no torch, no model): given each prunable channel's score, the
current masks, a cost function in the budget's currency and the budget,
:func:`select_structure` removes channels in one global order, regrows the
pruned ones the loss wants back and returns the new masks;
:func:`layer_percentile` is the ``layer`` ranking's per-layer rank.
:class:`~sca_lava.pruning.sca.SCAPruner` calls them at every structure update.
"""

from __future__ import annotations

import numpy as np

from sca_lava.geometry import LayerGeometry


def layer_percentile(values: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """Rank of each value within its layer as a fraction of the layer's width
    (lowest 1/n, highest 1; ties by index), so layers of any width and any
    score scale interleave evenly in one global order.

    With ``active`` (the layer's mask) only the active channels are ranked
    by value, all above the pruned ones: a layer with p of its n channels
    pruned gives its active ones (p+1)/n .. 1, whatever the pruned ones'
    keys. Why (issue 31): an activity score is exactly 0 on a pruned channel,
    so activity criteria always ranked pruned channels lowest, while random,
    taylor and gain gave them arbitrary keys; a cut at one percentile then
    kept the same per-layer fractions for the one and drifting ones for the
    others, and the comparison measured the shape, not the choice of
    channels. Ranked this way every criterion's cut keeps the same fraction
    of every layer (exactly, where a channel's cost depends on its layer
    only: params, channels) and the criteria differ in which channels only."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    alive = np.ones(n, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    pos = np.empty(n, dtype=np.float64)
    pos[np.lexsort((np.arange(n), values, alive))] = np.arange(n)  # pruned first, then by value, then index
    return (pos + 1.0) / max(n, 1)


def layer_zscores(scores: dict[int, np.ndarray], active: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Each layer's scores standardised over its active channels ((s - mean) /
    std; 0 where they are all alike), its pruned channels below every active
    one. Why: under a plain global ranking the layers' firing differs ~25x on
    ``mnist_vgg``, so raw activity ranks layers, not channels (the paper's
    setting with and without this, issue 31)."""
    out = {}
    for b, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        m = np.asarray(active[b], dtype=bool)
        z = np.zeros_like(s)
        if m.any():
            sd = float(s[m].std())
            z[m] = (s[m] - s[m].mean()) / sd if sd > 0 else 0.0
            z[~m] = float(z[m].min()) - 1.0
        out[b] = z
    return out


def select_structure(geo: list[LayerGeometry], scores: dict[int, np.ndarray], active: dict[int, np.ndarray],
                     *, cost, budget: float, key: dict[int, np.ndarray] | None = None,
                     tiebreak: dict[int, np.ndarray] | None = None, balance: float = 0.0, n_regrow: int = 0,
                     regrow_signal: dict[int, np.ndarray] | None = None, floor: int = 1, exact=None,
                     put_back: bool = True, monotone: bool = True) -> tuple[dict[int, np.ndarray], dict]:
    """Global prune + regrow starting from the current masks ``active``.

    ``cost(masks) -> float`` is the budget's currency (``exact``, when given,
    is checked last and ``cost`` may approximate it); ``budget`` its maximum.
    Channels are removed lowest ``key`` first (default: the score; equal keys:
    lowest ``tiebreak`` first, then the lowest index; ``balance``: see
    ``removable`` below), the
    smallest prefix of that order that meets the budget (binary search:
    params, channels, SynOps and energy on a fixed allocation are
    non-increasing as channels go). ``monotone=False`` (cores: an
    allocator may split 8 channels into more tiles than 9) only trusts what
    it measured: when the longest prefix does not fit, every shorter one is
    tried before the budget is called unreachable. ``put_back`` then returns
    channels removed in this update, best first, while the budget still holds
    (greedy removal overshoots by up to one channel). Returns the new boolean
    masks and what changed; ``info["budget_met"]`` is False only when no
    prefix of the order (down to ``floor`` channels per layer) meets
    ``budget``, and the masks are then ``active`` unchanged: cutting every
    layer to the floor, as this did before, wrecked the net for a budget
    it could not meet anyway (the caller says so)."""
    geo_blocks = {g.block for g in geo if g.prunable}
    blocks = [b for b in sorted(scores) if b in geo_blocks]
    entries = [(b, c) for b in blocks for c in range(len(scores[b]))]
    rank = key if key is not None else scores
    kv = np.array([rank[b][c] for b, c in entries], dtype=np.float64)
    was = np.array([bool(active[b][c]) for b, c in entries])
    tb = np.array([tiebreak[b][c] for b, c in entries], dtype=np.float64) if tiebreak else np.zeros(len(entries))
    order = np.lexsort((np.arange(len(entries)), tb, kv))  # lowest key first
    block_of = np.array([b for b, _ in entries])

    def masks(keep: np.ndarray) -> dict[int, np.ndarray]:
        out, start = {}, 0
        for b in blocks:
            out[b] = keep[start:start + len(scores[b])].copy()
            start += len(scores[b])
        return out

    pos = np.empty(len(entries), dtype=np.int64)
    pos[order] = np.arange(len(entries))  # global rank of every channel (ties broken)

    def removable(keep: np.ndarray, skip=()) -> list[int]:
        """Kept channels in removal order, as many per layer as the floor allows.
        With ``balance`` > 0 the keys of a layer's remaining channels grow by
        (its width / channels left) ** balance as it thins (diminishing returns)."""
        room = {b: int(keep[block_of == b].sum()) - floor for b in blocks}
        if balance <= 0:
            seq = []
            for k in order:
                b = entries[k][0]
                if keep[k] and k not in skip and room[b] > 0:
                    seq.append(int(k))
                    room[b] -= 1
            return seq
        queues = {b: [int(k) for k in order if block_of[k] == b and keep[k] and k not in skip] for b in blocks}
        left = {b: int(keep[block_of == b].sum()) for b in blocks}
        width = {b: len(scores[b]) for b in blocks}
        head = dict.fromkeys(blocks, 0)
        seq = []
        while True:
            best, best_key = None, None
            for b in blocks:
                if room[b] <= 0 or head[b] >= len(queues[b]):
                    continue
                k = queues[b][head[b]]
                eff = (kv[k] * (width[b] / left[b]) ** balance, tb[k], pos[k])
                if best_key is None or eff < best_key:
                    best, best_key = b, eff
            if best is None:
                return seq
            seq.append(queues[best][head[best]])
            head[best] += 1
            room[best] -= 1
            left[best] -= 1

    def cut(keep, seq, n):
        out = keep.copy()
        out[seq[:n]] = False
        return out

    def search(keep, seq) -> tuple[np.ndarray, bool]:
        if cost(masks(keep)) <= budget:
            return keep, True
        if cost(masks(cut(keep, seq, len(seq)))) > budget:
            for n in range(1, len(seq) if not monotone else 1):
                if cost(masks(cut(keep, seq, n))) <= budget:
                    return cut(keep, seq, n), True
            return keep, False
        lo, hi = 1, len(seq)
        while lo < hi:
            mid = (lo + hi) // 2
            if cost(masks(cut(keep, seq, mid))) <= budget:
                hi = mid
            else:
                lo = mid + 1
        return cut(keep, seq, hi), True

    keep, met = search(was.copy(), removable(was))
    regrown: list[int] = []
    if n_regrow > 0 and met:
        extra = removable(keep)[:n_regrow]
        if extra:
            keep[extra] = False
            signal = regrow_signal or {}
            cand = np.flatnonzero(~keep)
            sig = np.array([float(signal[entries[k][0]][entries[k][1]]) if entries[k][0] in signal else 0.0
                            for k in cand])
            regrown = [int(k) for k in cand[np.argsort(-sig, kind="stable")[:len(extra)]]]
            before = keep.copy()
            before[extra] = True
            keep[regrown] = True
            keep, met = search(keep, removable(keep, skip=set(regrown)))
            if not met:  # the regrown channels cannot be paid for: no regrowth this time
                keep, met, regrown = before, True, []
    if put_back and met:
        for k in order[::-1]:
            if keep[k] or not was[k]:
                continue
            keep[k] = True
            if cost(masks(keep)) > budget:
                keep[k] = False
    if exact is not None and met:
        for k in [None] + removable(keep, skip=set(regrown)):
            if k is not None:
                keep[k] = False
            if exact(masks(keep)) <= budget:
                break
        else:
            met = False
    if not met:
        keep = was.copy()
    new = masks(keep)
    pruned_now = [k for k in range(len(entries)) if was[k] and not keep[k]]
    regrown_now = [k for k in range(len(entries)) if keep[k] and not was[k]]

    def by_layer(ks: list[int]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for k in ks:
            out.setdefault(str(entries[k][0]), []).append(int(entries[k][1]))
        return out

    info = {
        "pruned": len(pruned_now),
        "regrown": len(regrown_now),
        "cost": float((exact or cost)(new)),
        "budget": float(budget),
        "budget_met": bool(met),
        "pruned_channels": by_layer(pruned_now),  # block -> channel indices pruned by this update
        "regrown_channels": by_layer(regrown_now),  # block -> previously pruned channels brought back
    }
    return new, info
