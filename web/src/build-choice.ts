// The wasm build both demo pages use (and their workers): ?build=simd|relaxed, else the library's choice
// (relaxed SIMD with FMA where the browser has it), shown in the header's badge.
import { currentBackend, relaxedSupported, setBackend, simdSupported } from '../../src/index.js';

/** Picks the build; on failure marks the badge and rethrows with a message for the page. */
export async function chooseBuild(badge: HTMLElement): Promise<string> {
  const want = new URLSearchParams(location.search).get('build');
  try {
    if (!simdSupported()) throw new Error('This browser has no WebAssembly SIMD (needs Chrome 91+, Firefox 89+, Safari 16.4+).');
    if (want === 'simd' || want === 'relaxed') {
      if (want === 'relaxed' && !relaxedSupported())
        throw new Error('?build=relaxed: this browser has no relaxed SIMD; remove the option to use plain SIMD.');
      if (currentBackend().build !== want) await setBackend({ build: want });
    }
  } catch (e) {
    badge.textContent = 'no WebAssembly SIMD';
    badge.className = 'badge bad';
    throw e;
  }
  const build = currentBackend().build;
  badge.textContent = build === 'relaxed' ? 'wasm SIMD + FMA (relaxed SIMD)' : 'wasm SIMD';
  badge.className = 'badge ok';
  if (self.crossOriginIsolated) badge.title = 'cross-origin isolated';
  return build;
}
