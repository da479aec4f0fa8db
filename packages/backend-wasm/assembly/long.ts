/**
 * Several query rows longer than a span (see spans.ts) against a corpus, corpus panel by panel.
 */
import { dotsWith } from './generated/tiles';
import { addRows, SPAN_STEPS } from './spans';

/**
 * `out[i][j] = a_i . b_j` for `m` query rows and `n` corpus rows of `stride` steps (more than one
 * span), as driver `config` lays them out, unclamped: each span summed as a row of that length is
 * and the spans' sums added in order in float32 (the first into `out`, each other into `part`,
 * rows `ldp` floats apart, then added), the same bits as span after span over the whole corpus.
 * Taken `chunk` corpus rows at a time (a multiple of the driver's panel), every span of those rows
 * before the next rows: the corpus is read panel after panel, start to end, where span after span
 * over the whole corpus read the first span of every panel, then the second, jumping by a panel's
 * length each time. `ldo` and `ldp` in floats; `nbp` and `touch` as for `dotsWith`.
 */
export function dotsLongWith(
  config: i32,
  a: usize,
  m: i32,
  b: usize,
  n: i32,
  stride: i32,
  out: usize,
  ldo: i32,
  part: usize,
  ldp: i32,
  nbp: i32,
  touch: bool,
  chunk: i32,
): void {
  const rowBytes = (<usize>stride) << 4;
  for (let j0 = 0; j0 < n; j0 += chunk) {
    const w = min(chunk, n - j0);
    const bj = b + <usize>j0 * rowBytes;
    const oj = out + ((<usize>j0) << 2);
    const pj = part + ((<usize>j0) << 2);
    for (let from = 0; from < stride; from += SPAN_STEPS) {
      const len = min(SPAN_STEPS, stride - from);
      if (from === 0) {
        dotsWith(config, a, m, bj, w, len, oj, (<usize>ldo) << 2, false, nbp, stride, from, touch);
      } else {
        dotsWith(config, a, m, bj, w, len, pj, (<usize>ldp) << 2, false, nbp, stride, from, touch);
        addRows(oj, ldo, pj, ldp, m, w);
      }
    }
  }
}
