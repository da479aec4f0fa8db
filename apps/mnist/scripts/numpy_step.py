"""The MLP training step of `pnpm mnist:speed`, written in numpy, for a CPU-time comparison.

784 -> 256 (relu) -> 64, L2-normalised; InfoNCE (multiple-negatives ranking) at scale 20 with
same-class rows masked; Adam 1e-3; batches of 128 anchor/positive pairs (256 rows through the
encoder), the last partial batch dropped. The same step as `@cosinekit/nn`'s `train` with
`inBatchSampler`, `multipleNegativesRankingLoss()` and `adam()`.

Protocol (driven by apps/mnist/src/speed.ts): the first stdin line is JSON
{"x": path, "labels": path, "rows": N, "batch": B, "seed": S} (x: N x 784 little-endian float32,
labels: N int32); then each line "epoch" runs one epoch and prints one JSON line
{"cpu": seconds, "loss": mean loss}, the CPU seconds being time.process_time() of that epoch.
Run it with OPENBLAS_NUM_THREADS=1 for a single-thread figure (speed.ts does).
"""
import json
import sys
import time

import numpy as np


def main():
    cfg = json.loads(sys.stdin.readline())
    n, batch = cfg["rows"], cfg["batch"]
    x = np.fromfile(cfg["x"], dtype="<f4").reshape(n, 784)
    labels = np.fromfile(cfg["labels"], dtype="<i4")
    rng = np.random.default_rng(cfg["seed"])
    d_in, hidden, dim, scale, lr = 784, 256, 64, np.float32(20.0), 1e-3
    w1 = (rng.standard_normal((d_in, hidden)) * np.sqrt(2 / d_in)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    lim = np.sqrt(6 / (hidden + dim))
    w2 = rng.uniform(-lim, lim, (hidden, dim)).astype(np.float32)
    b2 = np.zeros(dim, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    # Positives drawn without a Python loop: rows sorted by class, a random offset within it.
    by_class = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    eye = np.eye(batch, dtype=np.float32)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        t0 = time.process_time()
        order = rng.permutation(n)
        losses = []
        for s in range(0, n - batch + 1, batch):
            idx = order[s : s + batch]
            g = labels[idx]
            pos = by_class[starts[g] + rng.integers(0, counts[g])]
            xb = np.concatenate([x[idx], x[pos]])
            h_pre = xb @ w1
            h_pre += b1
            h = np.maximum(h_pre, 0)
            e = h @ w2
            e += b2
            norms = np.sqrt(np.einsum("ij,ij->i", e, e))[:, None]
            y = e / norms
            a, c = y[:batch], y[batch:]
            s_mat = scale * (a @ c.T)
            mask = (g[:, None] == g[None, :]) & (eye == 0)
            s_mat[mask] = -np.inf
            s_max = s_mat.max(axis=1, keepdims=True)
            p = np.exp(s_mat - s_max)
            z = p.sum(axis=1, keepdims=True)
            p /= z
            losses.append(float(np.mean(s_max[:, 0] + np.log(z[:, 0]) - np.diag(s_mat))))
            d_s = (scale / batch) * (p - eye)
            d_y = np.concatenate([d_s @ c, d_s.T @ a])
            d_e = (d_y - y * np.einsum("ij,ij->i", y, d_y)[:, None]) / norms
            d_h = (d_e @ w2.T) * (h_pre > 0)
            grads = [xb.T @ d_h, d_h.sum(axis=0), h.T @ d_e, d_e.sum(axis=0)]
            step += 1
            # Python floats keep every temporary float32 (an np.float64 scalar would promote them).
            step_size = float(lr / (1 - 0.9**step))
            root = float(1 / np.sqrt(1 - 0.999**step))
            for k, (prm, grd) in enumerate(zip(params, grads)):
                m[k] *= 0.9
                m[k] += 0.1 * grd
                v[k] *= 0.999
                v[k] += 0.001 * (grd * grd)
                denom = np.sqrt(v[k])
                denom *= root
                denom += 1e-8
                prm -= step_size * m[k] / denom
        print(json.dumps({"cpu": time.process_time() - t0, "loss": float(np.mean(losses))}), flush=True)


if __name__ == "__main__":
    main()
