// Node 20 validates relaxed SIMD only behind a V8 flag; it must be set before any module compiles.
// Evaluated before index.ts (ESM runs imports in order), so the first backend can use the FMA build.
import { setFlagsFromString } from 'node:v8';
import { preferBuild, relaxedSupported } from './backend.js';
import { type ConvAlgorithm, setConvAlgorithm } from './kernels/winograd.js';

if (!relaxedSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');
// SIMDCNN_BUILD=simd forces the plain build (determinism tests, benchmarks of both builds).
preferBuild((process.env.SIMDCNN_BUILD || undefined) as 'simd' | 'relaxed' | undefined);
// SIMDCNN_CONV=direct (or winograd, winograd2x2) overrides the convolution algorithm rule (setConvAlgorithm).
if (process.env.SIMDCNN_CONV) setConvAlgorithm(process.env.SIMDCNN_CONV as ConvAlgorithm);
