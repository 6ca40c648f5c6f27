// The fixed-order reduction of data-parallel training: each chunk of a batch writes its gradient into its
// own block, and the blocks are summed in chunk order, so the sum's rounding never depends on how many
// threads computed the chunks. Elementwise: any split of [0, n) across threads gives the same bits.
import { scalarMode } from './common';

/**
 * dst[i] = ((src0[i] + src1[i]) + src2[i]) + ... over `count` blocks of `stride` bytes starting at src,
 * for i in [0, n); dst may be src (block 0).
 */
export function sum_blocks_f32(dst: usize, src: usize, stride: usize, count: i32, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      let p = src + o;
      let a = v128.load(p), b = v128.load(p, 16);
      for (let c = 1; c < count; c++) {
        p += stride;
        a = f32x4.add(a, v128.load(p));
        b = f32x4.add(b, v128.load(p, 16));
      }
      v128.store(dst + o, a);
      v128.store(dst + o, b, 16);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let p = src + o;
    let a = load<f32>(p);
    for (let c = 1; c < count; c++) {
      p += stride;
      a += load<f32>(p);
    }
    store<f32>(dst + o, a);
  }
}
