/**
 * The neural-network kernels: bias, activations and their gradients. Each returns 1 when every
 * value it wrote is finite and 0 otherwise, checked as it writes (v - v is 0 for a finite v and
 * NaN for ±Inf and NaN, and NaN is unequal to itself): what lets the JS side declare them
 * self-checked without another pass over the output.
 */

import { allFinite, finiteLanes } from './finite';

/** `out = x + bias` with `bias` (`cols` floats) broadcast over `rows` rows; 1 when all finite. */
export function addBias(x: usize, rows: i32, cols: i32, bias: usize, out: usize): i32 {
  const rowBytes = (<usize>cols) << 2;
  let ok = v128.not(i32x4.splat(0));
  let tail: f32 = 0;
  for (let i = 0; i < rows; i++) {
    const px = x + <usize>i * rowBytes;
    const po = out + <usize>i * rowBytes;
    let p = 0;
    for (; p + 4 <= cols; p += 4) {
      const o = (<usize>p) << 2;
      const r = f32x4.add(v128.load(px + o), v128.load(bias + o));
      v128.store(po + o, r);
      ok = finiteLanes(ok, r);
    }
    for (; p < cols; p++) {
      const o = (<usize>p) << 2;
      const r = load<f32>(px + o) + load<f32>(bias + o);
      store<f32>(po + o, r);
      tail += r - r;
    }
  }
  return v128.all_true<i32>(ok) && tail === 0 ? 1 : 0;
}

/**
 * `out[j] = sum_i x[i][j]` for a `rows x cols` matrix: each column summed down the rows in order
 * from +0, one float32 add at a time (core's contract, so the bits match the reference). The rows
 * are read in order and the `cols` running sums, in `out`, stay in the first-level cache; a lane
 * holds one column, so four columns advance per SIMD add without changing any column's order.
 * Returns 1 when every sum is finite.
 */
export function columnSums(x: usize, rows: i32, cols: i32, out: usize): i32 {
  const rowBytes = (<usize>cols) << 2;
  memory.fill(out, 0, rowBytes);
  const wide = cols & ~3;
  for (let i = 0; i < rows; i++) {
    const px = x + <usize>i * rowBytes;
    let p = 0;
    for (; p < wide; p += 4) {
      const o = (<usize>p) << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(px + o)));
    }
    for (; p < cols; p++) {
      const o = (<usize>p) << 2;
      store<f32>(out + o, load<f32>(out + o) + load<f32>(px + o));
    }
  }
  return allFinite(out, cols);
}

/** Activation codes, in the order of core's ACTIVATIONS. */
const LINEAR = 0;
const RELU = 1;
const TANH = 2;
const GELU = 3;
const SIGMOID = 4;

/** sqrt(2 / pi) and the cubic coefficient of the tanh approximation of GELU. */
const GELU_C: f64 = 0.7978845608028654;
const GELU_A: f64 = 0.044715;

function activate(kind: i32, x: f64): f64 {
  switch (kind) {
    case TANH:
      return Math.tanh(x);
    case SIGMOID:
      return 1 / (1 + Math.exp(-x));
    case GELU:
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
    default:
      return x;
  }
}

function derivative(kind: i32, x: f64): f64 {
  switch (kind) {
    case TANH: {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case SIGMOID: {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    }
    case GELU: {
      const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
    }
    default:
      return 1;
  }
}

/** `out = f(x)` for `n` floats; the smooth activations are evaluated in float64. 1 when its input and its answer are all finite. */
export function activation(kind: i32, x: usize, n: i32, out: usize): i32 {
  let i = 0;
  if (kind === LINEAR) {
    memory.copy(out, x, (<usize>n) << 2);
    return allFinite(out, n);
  }
  if (kind === RELU) {
    const zero = f32x4.splat(0);
    let ok = v128.not(i32x4.splat(0));
    for (; i + 4 <= n; i += 4) {
      const o = (<usize>i) << 2;
      const v = v128.load(x + o);
      // x > 0 ? x : 0, which also maps -0 to +0 like the reference.
      const r = v128.and(v, f32x4.gt(v, zero));
      v128.store(out + o, r);
      // The input, not the answer: relu(NaN) and relu(-Infinity) are 0, a non-finite input all the same.
      ok = finiteLanes(ok, v);
    }
    let tail: f32 = 0;
    for (; i < n; i++) {
      const o = (<usize>i) << 2;
      const v = load<f32>(x + o);
      const r: f32 = v > 0 ? v : 0;
      store<f32>(out + o, r);
      tail += v - v;
    }
    return v128.all_true<i32>(ok) && tail === 0 ? 1 : 0;
  }
  let tail: f32 = 0;
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const r = <f32>activate(kind, <f64>v);
    store<f32>(out + o, r);
    // tanh and sigmoid of ±Infinity are finite: the input is checked as well as the answer.
    tail += r - r + (v - v);
  }
  return tail === 0 ? 1 : 0;
}

/** `out = dy * f'(x)` for `n` floats; 1 when x and the answer are all finite. */
export function activationGrad(kind: i32, x: usize, dy: usize, n: i32, out: usize): i32 {
  let i = 0;
  if (kind === LINEAR) {
    memory.copy(out, dy, (<usize>n) << 2);
    return allFinite(out, n);
  }
  if (kind === RELU) {
    const zero = f32x4.splat(0);
    const one = f32x4.splat(1);
    let ok = v128.not(i32x4.splat(0));
    for (; i + 4 <= n; i += 4) {
      const o = (<usize>i) << 2;
      const xv = v128.load(x + o);
      const mask = f32x4.gt(xv, zero);
      const r = f32x4.mul(v128.load(dy + o), v128.and(one, mask));
      v128.store(out + o, r);
      // A non-finite x gives a mask, not a NaN: checked itself.
      ok = finiteLanes(finiteLanes(ok, r), xv);
    }
    let tail: f32 = 0;
    for (; i < n; i++) {
      const o = (<usize>i) << 2;
      const xv = load<f32>(x + o);
      const r = load<f32>(dy + o) * (xv > 0 ? <f32>1 : <f32>0);
      store<f32>(out + o, r);
      tail += r - r + (xv - xv);
    }
    return v128.all_true<i32>(ok) && tail === 0 ? 1 : 0;
  }
  let tail: f32 = 0;
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const xv = load<f32>(x + o);
    const r = <f32>(<f64>load<f32>(dy + o) * derivative(kind, <f64>xv));
    store<f32>(out + o, r);
    // The derivative of tanh or sigmoid at ±Infinity is 0: the input is checked as well as the answer.
    tail += r - r + (xv - xv);
  }
  return tail === 0 ? 1 : 0;
}
