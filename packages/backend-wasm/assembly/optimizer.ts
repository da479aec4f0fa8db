/**
 * Fused optimiser updates: one pass over a parameter array reads and writes each of p, g and the
 * moments once. Every lane and the scalar tail do the same float32 operations in the same order as
 * the reference (core's kernels/optimizer.ts): no fused multiply-add, so the bits match.
 */

/**
 * Adam on `n` floats: `p` the parameters, `g` the gradient, `m` and `v` the moments, `c` the eight
 * coefficients `[b1, 1 - b1, b2, 1 - b2, lr / (1 - b1^t), 1 / sqrt(1 - b2^t), eps, lr * wd]`.
 */
export function adamStep(p: usize, g: usize, m: usize, v: usize, n: i32, c: usize): void {
  const b1 = load<f32>(c);
  const o1 = load<f32>(c, 4);
  const b2 = load<f32>(c, 8);
  const o2 = load<f32>(c, 12);
  const step = load<f32>(c, 16);
  const root = load<f32>(c, 20);
  const eps = load<f32>(c, 24);
  const decay = load<f32>(c, 28);
  const vb1 = f32x4.splat(b1);
  const vo1 = f32x4.splat(o1);
  const vb2 = f32x4.splat(b2);
  const vo2 = f32x4.splat(o2);
  const vstep = f32x4.splat(step);
  const vroot = f32x4.splat(root);
  const veps = f32x4.splat(eps);
  const vdecay = f32x4.splat(decay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const gi = v128.load(g + o);
    const pi = v128.load(p + o);
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vo1, gi));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(vo2, f32x4.mul(gi, gi)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vi), vroot), veps);
    const upd = f32x4.add(f32x4.div(f32x4.mul(vstep, mi), den), f32x4.mul(vdecay, pi));
    v128.store(p + o, f32x4.sub(pi, upd));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const gi = load<f32>(g + o);
    const pi = load<f32>(p + o);
    const mi = b1 * load<f32>(m + o) + o1 * gi;
    const vi = b2 * load<f32>(v + o) + o2 * (gi * gi);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const den = Mathf.sqrt(vi) * root + eps;
    store<f32>(p + o, pi - ((step * mi) / den + decay * pi));
  }
}

/** SGD with momentum on `n` floats, `c` = `[mu, wd, lr]`: `v = (mu v + g) + wd p`, `p = p - lr v`. */
export function sgdStep(p: usize, g: usize, v: usize, n: i32, c: usize): void {
  const mu = load<f32>(c);
  const wd = load<f32>(c, 4);
  const lr = load<f32>(c, 8);
  const vmu = f32x4.splat(mu);
  const vwd = f32x4.splat(wd);
  const vlr = f32x4.splat(lr);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const pi = v128.load(p + o);
    const vi = f32x4.add(f32x4.add(f32x4.mul(vmu, v128.load(v + o)), v128.load(g + o)), f32x4.mul(vwd, pi));
    v128.store(v + o, vi);
    v128.store(p + o, f32x4.sub(pi, f32x4.mul(vlr, vi)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const pi = load<f32>(p + o);
    const vi = mu * load<f32>(v + o) + load<f32>(g + o) + wd * pi;
    store<f32>(v + o, vi);
    store<f32>(p + o, pi - lr * vi);
  }
}
