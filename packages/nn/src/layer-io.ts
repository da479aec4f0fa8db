import type { Activation } from '@cosinekit/core/backend';
import { valueText } from '@cosinekit/core/backend';
import { MAX_LAYER_WEIGHTS } from './check.js';
import { Conv2dLayer, FlattenLayer, Pool2dLayer, type Shape3 } from './conv.js';
import { DenseLayer, type Layer, type LayerKind } from './layers.js';

/**
 * The fields a saved file records for layers other than dense ones (a dense layer needs only
 * `inputs`, `units`, `activation` and `bias`, and files written before convolutions existed have
 * no `kind`).
 */
export interface SavedLayerGeometry {
  /** Absent for dense layers. */
  readonly kind?: Exclude<LayerKind, 'dense'>;
  /** Convolution and pooling: the input image, `[height, width, channels]`. */
  readonly inputShape?: readonly [number, number, number];
  /** Convolution: output channels. */
  readonly filters?: number;
  /** Convolution: `[height, width]`. */
  readonly kernel?: readonly [number, number];
  /** Convolution and pooling. */
  readonly stride?: number;
  /** Convolution: zero padding on every side. */
  readonly padding?: number;
  /** Pooling: the window size. */
  readonly size?: number;
}

/** The geometry fields of `layer` for the file header (none for a dense layer). */
export function savedGeometry(layer: Layer): SavedLayerGeometry {
  if (layer instanceof Conv2dLayer) {
    const { inputShape, filters, kernel, stride, padding } = layer;
    return { kind: 'conv2d', inputShape, filters, kernel, stride, padding };
  }
  if (layer instanceof Pool2dLayer) {
    return { kind: layer.kind, inputShape: layer.inputShape, size: layer.size, stride: layer.stride };
  }
  if (layer instanceof FlattenLayer) return { kind: 'flatten' };
  return {};
}

interface SavedShape extends SavedLayerGeometry {
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  readonly bias: boolean;
}

/** The weight and bias lengths a saved layer's header implies, computed without allocating. */
function lengths(l: SavedShape): [number, number] {
  // Only an absent kind is a dense layer: null, '' or 0 is no kind, and refused when built.
  if (l.kind === undefined) return [l.inputs * l.units, l.bias ? l.units : 0];
  // An unknown kind was counted as holding nothing, and reported as the file's parameter count
  // not matching its layers ("declares 4 parameters but its layers hold 0").
  if (l.kind === 'maxPool2d' || l.kind === 'avgPool2d' || l.kind === 'flatten') return [0, 0];
  if (l.kind !== 'conv2d') throw new Error(`an unknown layer kind ${valueText(l.kind)}`);
  const k = Array.isArray(l.kernel) ? l.kernel : [];
  const s = Array.isArray(l.inputShape) ? l.inputShape : [];
  const n = Number(k[0]) * Number(k[1]) * Number(s[2]) * Number(l.filters);
  // The limit a dense layer has: a convolution createEncoder makes and saveEncoder writes loads back.
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LAYER_WEIGHTS)
    throw new Error('a convolution with an invalid shape');
  return [n, l.bias ? Number(l.filters) : 0];
}

/**
 * How many float32 values a saved layer's header says follow it in the file (weights and bias),
 * computed without building the layer. Throws on a convolution whose shape is not a valid count.
 */
export function savedParameters(l: SavedShape): number {
  const [nw, nb] = lengths(l);
  return nw + nb;
}

/**
 * Builds a layer from its header entry, checking that the recorded `inputs` and `units` agree with
 * its geometry; `read` supplies the float32 weights (without it, only the check runs and the
 * parameter count comes back). Throws on any inconsistency; the caller reports `CORRUPT_DATA`.
 * `op` is the public function reading the file, named in the layers' own errors.
 */
export function layerFromSaved(
  l: SavedShape,
  read?: (n: number) => Float32Array,
  op = 'loadEncoder',
): { layer: Layer; parameters: number } {
  const [nw, nb] = lengths(l);
  const build = (w: Float32Array, b: Float32Array): Layer => {
    switch (l.kind) {
      case undefined:
        return new DenseLayer(l.inputs, l.units, l.activation, w, b);
      case 'conv2d':
        return new Conv2dLayer(
          {
            inputShape: l.inputShape as Shape3,
            filters: l.filters as number,
            kernel: l.kernel as [number, number],
            stride: l.stride as number,
            padding: l.padding as number,
          },
          l.activation,
          w,
          b,
          op,
        );
      case 'maxPool2d':
      case 'avgPool2d':
        if (!Array.isArray(l.inputShape) || l.inputShape.length !== 3)
          throw new Error('a pooling layer without its input shape');
        return new Pool2dLayer(
          l.kind,
          l.inputShape as Shape3,
          l.size as number,
          l.stride as number,
          'float32',
          op,
        );
      case 'flatten':
        return new FlattenLayer(l.inputs);
      default:
        throw new Error(`an unknown layer kind ${valueText(l.kind)}`);
    }
  };
  if (!read) {
    if (l.kind !== undefined) {
      const probe = build(new Float32Array(nw), new Float32Array(nb));
      if (probe.inputs !== l.inputs || probe.units !== l.units) {
        throw new Error(
          `a ${l.kind} layer whose shapes give ${probe.inputs} -> ${probe.units}, not ${l.inputs} -> ${l.units}`,
        );
      }
      if (probe.activation !== l.activation || probe.hasBias !== l.bias) {
        throw new Error(`a ${l.kind} layer with an activation or bias it cannot have`);
      }
      return { layer: probe, parameters: nw + nb };
    }
    return { layer: undefined as unknown as Layer, parameters: nw + nb };
  }
  const w = read(nw);
  const b = read(nb);
  return { layer: build(w, b), parameters: nw + nb };
}
