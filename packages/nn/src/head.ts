import type { TensorInput } from '@cosinekit/core';
import { Tensor } from '@cosinekit/core';
import { argError } from '@cosinekit/core/backend';
import { type Encoder, type KernelSource, kernelsOf } from './encoder.js';

/**
 * The DLCS cosine head: it replaces a classifier's output layer and scores inputs by the cosine of
 * their embeddings, cos(f(x1), f(x2)), using the backend's cosine kernels.
 */
export class CosineHead {
  readonly encoder: Encoder;
  readonly #source: KernelSource;

  /** Binds an encoder to a kit (or kernel table). */
  constructor(encoder: Encoder, source: KernelSource) {
    this.encoder = encoder;
    this.#source = source;
  }

  /** `out[i] = cos(f(x1_i), f(x2_i))` for paired rows. */
  async pairs(x1: TensorInput, x2: TensorInput): Promise<Float32Array> {
    const kernels = await kernelsOf(this.#source, 'CosineHead.pairs');
    const [a, b] = [await this.encoder.embed(kernels, x1), await this.encoder.embed(kernels, x2)];
    if (a.rows !== b.rows) {
      argError('DIMENSION_MISMATCH', 'CosineHead.pairs', 'x2', `has ${b.rows} rows but x1 has ${a.rows}.`);
    }
    return kernels.cosineRows(a, b);
  }

  /** The `x1.rows x x2.rows` matrix of cos(f(x1_i), f(x2_j)). */
  async matrix(x1: TensorInput, x2: TensorInput): Promise<Tensor> {
    const kernels = await kernelsOf(this.#source, 'CosineHead.matrix');
    const a = await this.encoder.embed(kernels, x1);
    const b = await this.encoder.embed(kernels, x2);
    return new Tensor(await kernels.cosineMatrix(a, b), a.rows, b.rows);
  }
}

/** Creates a {@link CosineHead} for `encoder` on the kernels of `source`. */
export function createCosineHead(encoder: Encoder, source: KernelSource): CosineHead {
  return new CosineHead(encoder, source);
}
