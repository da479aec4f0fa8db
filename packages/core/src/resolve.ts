import { type Backend, CORPUS_KERNELS, KERNEL_NAMES, type KernelName, type Kernels } from './contract.js';
import { referenceKernels } from './reference.js';

/** A complete kernel table plus, for each kernel, the name of the backend that runs it. */
export interface ResolvedKernels {
  readonly kernels: Kernels;
  readonly providers: Readonly<Record<KernelName, string>>;
}

/**
 * Completes a backend's kernels with the reference ones, kernel by kernel. The corpus kernels
 * travel together: a resident corpus can only be searched by the backend that made it, so a
 * backend that lacks any of them gets the reference's three.
 */
export function resolveKernels(backend: Backend): ResolvedKernels {
  const own = backend.kernels;
  const corpusComplete = CORPUS_KERNELS.every((k) => typeof own[k] === 'function');
  const kernels = {} as Record<keyof Kernels, unknown>;
  const providers = {} as Record<KernelName, string>;
  for (const name of KERNEL_NAMES) {
    const mine = own[name];
    const usable = typeof mine === 'function' && (corpusComplete || !CORPUS_KERNELS.includes(name));
    kernels[name] = usable ? mine.bind(own) : referenceKernels[name];
    providers[name] = usable ? backend.name : 'reference';
  }
  // readCorpus is optional and belongs to whoever owns the corpus group.
  const read = corpusComplete ? own.readCorpus?.bind(own) : referenceKernels.readCorpus;
  if (read) kernels.readCorpus = read;
  return { kernels: kernels as unknown as Kernels, providers };
}
