import { wasmSimdLevel } from '../simd.js';
import { timerDescription } from '../timing.js';
import type { Environment } from '../types.js';

/** What a browser tells about itself. It does not expose the CPU model; the GPU comes from WebGL. */
export function browserEnvironment(): Environment {
  const ua = navigator.userAgent;
  const browser = /(Chrome|Firefox|Version)\/[\d.]+/.exec(ua)?.[0] ?? ua;
  return {
    runtime: `${browser} (browser)`,
    platform: navigator.platform || 'unknown',
    cpu: 'not exposed by browsers',
    cores: navigator.hardwareConcurrency ?? 0,
    wasmSimd: wasmSimdLevel(),
    timer: timerDescription(),
    webgl: webglRenderer(),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    userAgent: ua,
  };
}

function webglRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return 'no WebGL2';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}
