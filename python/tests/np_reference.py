"""An independent float64 router in plain numpy (DESIGN.md §1), for the Python tests: the
expected ids and weights, and how close each row is to a tie (so tests only demand equal ids on
rows where FP32 rounding cannot flip the order)."""
import numpy as np

RENORM_EPSILON = float(np.float32(1e-20))
PRACTICAL_BAND = 1e-4  # DESIGN.md §2 (3): 1e-4 * max(1, |sel|)


def activation(score, logits):
    if score == "sqrtsoftplus":
        # softplus(l) = l above 20, as the epilogue (and torch's softplus threshold) does
        soft = np.where(logits > 20, logits, np.log1p(np.exp(np.minimum(logits, 20))))
        return np.sqrt(soft)
    if score == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    if score == "softmax":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(score)


def route(cfg, x, weight, bias=None, token_ids=None, hash_table=None):
    """Returns a dict: logits, act, sel [N, E]; ids [N, k] int32; weights [N, k] float64;
    gap [N]: the smallest decisive score gap of the row (rank k vs k+1 among the reachable
    experts, or the kept/dropped group boundary); +inf for hash routing."""
    x64 = np.asarray(x, dtype=np.float64)
    w64 = np.asarray(weight, dtype=np.float64)
    logits = x64 @ w64.T
    act = activation(cfg.score, logits)
    sel = act + (0.0 if bias is None else np.asarray(bias, dtype=np.float64))
    n, experts = sel.shape
    k = cfg.top_k
    rows = np.arange(n)
    gap = np.full(n, np.inf)

    if token_ids is not None:
        ids = np.asarray(hash_table)[np.asarray(token_ids)].astype(np.int32)
    else:
        reachable = sel
        if cfg.groups > 1:
            per = experts // cfg.groups
            grouped = sel.reshape(n, cfg.groups, per)
            group_score = -np.sort(-grouped, axis=2)[:, :, :2].sum(axis=2)
            order = np.argsort(-group_score, axis=1, kind="stable")  # ties: lower group first
            keep = np.zeros((n, cfg.groups), dtype=bool)
            keep[rows[:, None], order[:, :cfg.topk_groups]] = True
            if cfg.topk_groups < cfg.groups:
                gap = (group_score[rows, order[:, cfg.topk_groups - 1]] -
                       group_score[rows, order[:, cfg.topk_groups]])
            reachable = np.where(np.repeat(keep, per, axis=1), sel, -np.inf)
        ranked = np.argsort(-reachable, axis=1, kind="stable")  # ties: lower expert first
        ids = ranked[:, :k].astype(np.int32)
        if k < experts:
            runner_up = reachable[rows, ranked[:, k]]
            gap = np.minimum(gap, reachable[rows, ranked[:, k - 1]] - runner_up)

    chosen = act[rows[:, None], ids]
    if cfg.renormalize:
        weights = chosen / (chosen.sum(axis=1, keepdims=True) + RENORM_EPSILON) * cfg.scale
    else:
        weights = chosen * cfg.scale
    return {"logits": logits, "act": act, "sel": sel, "ids": ids, "weights": weights, "gap": gap}


def clear_rows(ref):
    """Rows whose decisive gap exceeds the practical near-tie band: their ids must match."""
    kth = np.abs(np.take_along_axis(ref["sel"], ref["ids"][:, -1:].astype(np.int64), axis=1)[:, 0])
    return ref["gap"] > PRACTICAL_BAND * np.maximum(1.0, kth)


def round_to_bf16(a):
    """float32 -> the nearest bfloat16 value (ties to even), as float32; and its raw bits."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return (rounded.astype(np.uint32) << 16).view(np.float32), rounded
