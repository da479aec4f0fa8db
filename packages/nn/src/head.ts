import type { TensorInput } from '@cosinekit/core';
import { Tensor } from '@cosinekit/core';
import { admit, argError } from '@cosinekit/core/backend';
import { isA, under } from './check.js';
import { Encoder, type KernelSource, kernelsOf, ownRows, settled } from './encoder.js';

/**
 * The DLCS cosine head: it replaces a classifier's output layer and scores inputs by the cosine of
 * their embeddings, cos(f(x1), f(x2)), using the backend's cosine kernels.
 */
export class CosineHead {
  readonly encoder: Encoder;
  readonly #source: KernelSource;

  /** The rows of both sides copied now, and one version of the encoder for both (see `settled`). */
  #settled(op: string, x1: TensorInput, x2: TensorInput): [Tensor, Tensor, Encoder] {
    return [ownRows(x1, op, 'x1'), ownRows(x2, op, 'x2'), settled(this.encoder)];
  }

  /** Binds an encoder to a kit (or kernel table). */
  constructor(encoder: Encoder, source: KernelSource) {
    if (!isA(encoder, Encoder))
      argError(
        'INVALID_TYPE',
        'createCosineHead',
        'encoder',
        `must be an Encoder (createEncoder), got ${encoder === null ? 'null' : typeof encoder}.`,
      );
    this.encoder = encoder;
    this.#source = source;
  }

  /**
   * `out[i] = cos(f(x1_i), f(x2_i))` for paired rows. Errors name `'CosineHead.pairs'` and the
   * argument (`x1`, `x2`, `encoder`), including those raised while embedding.
   */
  async pairs(x1: TensorInput, x2: TensorInput): Promise<Float32Array> {
    const op = 'CosineHead.pairs';
    // Both sides through one version of the encoder, on the rows as they are at the call.
    const [r1, r2, model] = this.#settled(op, x1, x2);
    const kernels = await kernelsOf(this.#source, op);
    const a = await under(op, () => model.embed(kernels, r1), { x: 'x1' });
    const b = await under(op, () => model.embed(kernels, r2), { x: 'x2' });
    if (a.rows !== b.rows) {
      argError('DIMENSION_MISMATCH', op, 'x2', `has ${b.rows} rows but x1 has ${a.rows}.`);
    }
    // Through the kit's gate, as its own calls go: rows of extreme magnitude rescaled (a kernel may
    // assume them so; a float32 one gave 1, 0 or NaN for embeddings near 1e-20 or 1e20).
    return under(op, () => kernels.cosineRows(admit(a, op, 'a').tensor, admit(b, op, 'b').tensor), {
      a: 'x1',
      b: 'x2',
    });
  }

  /**
   * The `x1.rows x x2.rows` matrix of cos(f(x1_i), f(x2_j)). Errors name `'CosineHead.matrix'`
   * and the argument.
   */
  async matrix(x1: TensorInput, x2: TensorInput): Promise<Tensor> {
    const op = 'CosineHead.matrix';
    const [r1, r2, model] = this.#settled(op, x1, x2);
    const kernels = await kernelsOf(this.#source, op);
    const a = await under(op, () => model.embed(kernels, r1), { x: 'x1' });
    const b = await under(op, () => model.embed(kernels, r2), { x: 'x2' });
    return new Tensor(
      await under(op, () => kernels.cosineMatrix(admit(a, op, 'a').tensor, admit(b, op, 'b').tensor), {
        a: 'x1',
        b: 'x2',
      }),
      a.rows,
      b.rows,
    );
  }
}

/** Creates a {@link CosineHead} for `encoder` on the kernels of `source`. */
export function createCosineHead(encoder: Encoder, source: KernelSource): CosineHead {
  return new CosineHead(encoder, source);
}
