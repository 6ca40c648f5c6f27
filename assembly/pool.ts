// Max and average pooling on NHWC, vectorised over channels. Window clipping at the borders follows
// the padding the host computed; padded positions never win a max and never count in an average.
import { scalarMode, zero_f32 } from './common';

/**
 * y = max over each window; arg[o] = flat index into x of the winner (first one on ties), for backward.
 * With arg == 0 (inference) no winners are kept and the max is one pmax per vector.
 */
export function maxpool2d_forward(x: usize, y: usize, arg: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  // Inference (arg == 0) never reaches the paths that store winners, in either mode: they would write them
  // at address 0 + ..., over the module's static data.
  if (arg == 0) { maxpool2d_values(x, y, N, H, W, C, OH, OW, PH, PW, SH, SW, PT, PL); return; }
  const lanes = i32x4(0, 1, 2, 3);
  const ninf = f32x4.splat(-Infinity);
  let o = 0;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const iy0 = oy * SH - PT, ix0 = ox * SW - PL;
    const ys = max(0, iy0), ye = min(H, iy0 + PH), xs = max(0, ix0), xe = min(W, ix0 + PW);
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        let best = ninf, bi = i32x4.splat(-1);
        for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
          const idx = ((n * H + iy) * W + ix) * C + c;
          const v = v128.load(x + (<usize>idx << 2));
          const t = take(v, best);
          best = pick(v, best, t);
          bi = pick(i32x4.add(i32x4.splat(idx), lanes), bi, t);
        }
        v128.store(y + (<usize>(o + c) << 2), best);
        v128.store(arg + (<usize>(o + c) << 2), bi);
      }
    }
    for (; c < C; c++) {
      let best: f32 = -Infinity, bi = -1;
      for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
        const idx = ((n * H + iy) * W + ix) * C + c;
        const v = load<f32>(x + (<usize>idx << 2));
        if (!(v <= best) && best == best) { best = v; bi = idx; } // as above: a NaN, once taken, stays
      }
      store<f32>(y + (<usize>(o + c) << 2), best);
      store<i32>(arg + (<usize>(o + c) << 2), bi);
    }
    o += C;
  }
}

// 2x2 windows, stride 2, no padding, every window inside the image (LeNet's and most CNNs' pooling; the host
// decides, src/kernels/pool.ts): the general loops spend more on index arithmetic than on the four loads. Same
// visiting order as the general paths, so the results (and the winners, on ties) are the same bit for bit.

/** maxpool2d_forward for 2x2 windows at stride 2 inside the image; the scalar mode runs the general loops. */
export function maxpool2x2_forward(x: usize, y: usize, arg: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  if (arg == 0) maxpool2x2_values(x, y, N, H, W, C, OH, OW);
  else if (scalarMode) maxpool2d_forward(x, y, arg, N, H, W, C, OH, OW, 2, 2, 2, 2, 0, 0);
  else maxpool2x2_winners(x, y, arg, N, H, W, C, OH, OW);
}

/** One vector of a 2x2 window's max, positions visited (0,0), (0,1), (1,0), (1,1) as the general loop does. */
// @ts-ignore: decorator
@inline function max4(p: usize, q: usize, colBytes: usize): v128 {
  // The general loop's first step, pmax(v00, v00), is v00 itself.
  let best = v128.load(p);
  best = f32x4.pmax(v128.load(p + colBytes), best);
  best = f32x4.pmax(v128.load(q), best);
  return f32x4.pmax(v128.load(q + colBytes), best);
}

function maxpool2x2_values(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const colBytes = <usize>C << 2, rowBytes = <usize>W * colBytes;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) {
    let p = x + (<usize>(n * H + 2 * oy) * rowBytes);
    let out = y + (<usize>((n * OH + oy) * OW) * colBytes);
    for (let ox = 0; ox < OW; ox++) {
      const q = p + rowBytes;
      let c = 0;
      if (!scalarMode) for (; c + 4 <= C; c += 4) v128.store(out + (<usize>c << 2), max4(p + (<usize>c << 2), q + (<usize>c << 2), colBytes));
      for (; c < C; c++) {
        const o = <usize>c << 2;
        let best = load<f32>(p + o);
        const v2 = load<f32>(p + colBytes + o);
        if (!(v2 < best)) best = v2;
        const v3 = load<f32>(q + o);
        if (!(v3 < best)) best = v3;
        const v4 = load<f32>(q + colBytes + o);
        if (!(v4 < best)) best = v4;
        store<f32>(out + o, best);
      }
      p += colBytes << 1;
      out += colBytes;
    }
  }
}

/**
 * Whether candidate v takes over a window's max from best: !(v <= best), a larger value or a NaN; and
 * best == best, nothing takes over from a NaN, so a NaN anywhere in the window propagates (without it, the
 * next finite value would replace it).
 */
// @ts-ignore: decorator
@inline function take(v: v128, best: v128): v128 {
  return v128.andnot(f32x4.eq(best, best), f32x4.le(v, best));
}

/** m ? a : b per lane, for masks of whole lanes (comparison results): one blend in the relaxed build. */
// @ts-ignore: decorator
@inline function pick(a: v128, b: v128, m: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(a, b, m);
  return v128.bitselect(a, b, m);
}

function maxpool2x2_winners(x: usize, y: usize, arg: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const colBytes = <usize>C << 2, rowBytes = <usize>W * colBytes;
  const lanes = i32x4(0, 1, 2, 3), ninf = f32x4.splat(-Infinity), none = i32x4.splat(-1);
  let o = 0;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) {
    const row0 = (n * H + 2 * oy) * W * C;
    for (let ox = 0; ox < OW; ox++) {
      const i00 = row0 + 2 * ox * C, i01 = i00 + C, i10 = i00 + W * C, i11 = i10 + C;
      const p = x + (<usize>i00 << 2), q = x + (<usize>i10 << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const o4 = <usize>c << 2, ci = i32x4.add(i32x4.splat(c), lanes);
        let v = v128.load(p + o4), t = take(v, ninf);
        let best = pick(v, ninf, t), bi = pick(i32x4.add(i32x4.splat(i00), ci), none, t);
        v = v128.load(p + colBytes + o4); t = take(v, best);
        best = pick(v, best, t); bi = pick(i32x4.add(i32x4.splat(i01), ci), bi, t);
        v = v128.load(q + o4); t = take(v, best);
        best = pick(v, best, t); bi = pick(i32x4.add(i32x4.splat(i10), ci), bi, t);
        v = v128.load(q + colBytes + o4); t = take(v, best);
        best = pick(v, best, t); bi = pick(i32x4.add(i32x4.splat(i11), ci), bi, t);
        v128.store(y + (<usize>(o + c) << 2), best);
        v128.store(arg + (<usize>(o + c) << 2), bi);
      }
      for (; c < C; c++) {
        let best: f32 = -Infinity, bi = -1;
        for (let k = 0; k < 4; k++) {
          const idx = (k < 2 ? i00 : i10) + (k & 1) * C + c;
          const v = load<f32>(x + (<usize>idx << 2));
          if (!(v <= best) && best == best) { best = v; bi = idx; }
        }
        store<f32>(y + (<usize>(o + c) << 2), best);
        store<i32>(arg + (<usize>(o + c) << 2), bi);
      }
      o += C;
    }
  }
}

function maxpool2d_values(x: usize, y: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  let o = 0;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const iy0 = oy * SH - PT, ix0 = ox * SW - PL;
    const ys = max(0, iy0), ye = min(H, iy0 + PH), xs = max(0, ix0), xe = min(W, ix0 + PW);
    const first = x + (<usize>(((n * H + ys) * W + xs) * C) << 2);
    let c = 0;
    if (!scalarMode) for (; c + 4 <= C; c += 4) { // scalar mode: the loop below is the sibling (same rule as pmax)
      let best = v128.load(first + (<usize>c << 2));
      for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
        // One maxps per vector. Exact for finite inputs (predict checks them); which NaN wins is unspecified here.
        best = f32x4.pmax(v128.load(x + (<usize>(((n * H + iy) * W + ix) * C + c) << 2)), best);
      }
      v128.store(y + (<usize>(o + c) << 2), best);
    }
    for (; c < C; c++) {
      let best = load<f32>(first + (<usize>c << 2));
      for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
        const v = load<f32>(x + (<usize>(((n * H + iy) * W + ix) * C + c) << 2));
        if (!(v < best)) best = v;
      }
      store<f32>(y + (<usize>(o + c) << 2), best);
    }
    o += C;
  }
}

/** dx = 0, then each output gradient goes to the input that won its window. A scatter: no SIMD form. */
export function maxpool2d_backward(dy: usize, arg: usize, dx: usize, outCount: i32, inCount: i32): void {
  zero_f32(dx, inCount);
  for (let o = 0; o < outCount; o++) {
    const i = load<i32>(arg + (<usize>o << 2));
    if (i < 0) continue; // a window of only -Infinity: nothing won
    const p = dx + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(dy + (<usize>o << 2)));
  }
}

/**
 * maxpool2d_backward for 2x2 windows at stride 2 inside the image (maxpool2x2_winners' case), where each
 * input lies in at most one window: dx is written once, in order, without the scatter's zeroing pass. An input
 * gets 0 + its window's dy where it won (so -0 comes out +0, as the scatter's add gives), else 0; the row
 * and column no window covers (odd H or W) get 0.
 */
export function maxpool2x2_backward(dy: usize, arg: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const colBytes = <usize>C << 2, rowBytes = <usize>W * colBytes;
  const lanes = i32x4(0, 1, 2, 3), zero = f32x4.splat(0);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const row0 = (n * H + 2 * oy) * W * C;
      for (let ox = 0; ox < OW; ox++) {
        const i00 = row0 + 2 * ox * C, i10 = i00 + W * C;
        const p = dx + (<usize>i00 << 2), q = dx + (<usize>i10 << 2);
        let c = 0;
        if (!scalarMode)
          for (; c + 4 <= C; c += 4) {
            const o4 = <usize>c << 2, at = <usize>(o + c) << 2;
            const d = v128.load(dy + at), won = v128.load(arg + at), ci = i32x4.add(i32x4.splat(i00 + c), lanes);
            v128.store(p + o4, f32x4.add(zero, v128.and(d, i32x4.eq(won, ci))));
            v128.store(p + colBytes + o4, f32x4.add(zero, v128.and(d, i32x4.eq(won, i32x4.add(ci, i32x4.splat(C))))));
            const cj = i32x4.add(ci, i32x4.splat(W * C));
            v128.store(q + o4, f32x4.add(zero, v128.and(d, i32x4.eq(won, cj))));
            v128.store(q + colBytes + o4, f32x4.add(zero, v128.and(d, i32x4.eq(won, i32x4.add(cj, i32x4.splat(C))))));
          }
        for (; c < C; c++) {
          const o4 = <usize>c << 2, d = load<f32>(dy + (<usize>(o + c) << 2)), won = load<i32>(arg + (<usize>(o + c) << 2));
          store<f32>(p + o4, won == i00 + c ? <f32>0 + d : 0);
          store<f32>(p + colBytes + o4, won == i00 + C + c ? <f32>0 + d : 0);
          store<f32>(q + o4, won == i10 + c ? <f32>0 + d : 0);
          store<f32>(q + colBytes + o4, won == i10 + C + c ? <f32>0 + d : 0);
        }
        o += C;
      }
      // The column past the last window (odd W), in both rows.
      const tail = <usize>(W - 2 * OW) * colBytes, end = dx + (<usize>row0 << 2) + rowBytes;
      zero_f32(end - tail, <i32>(tail >> 2));
      zero_f32(end + rowBytes - tail, <i32>(tail >> 2));
    }
    // The rows past the last window (odd H).
    zero_f32(dx + <usize>((n * H + 2 * OH) * W * C) * 4, (H - 2 * OH) * W * C);
  }
}

/** y = mean over the window's positions inside the input (TensorFlow excludes padding from the count). */
export function avgpool2d_forward(x: usize, y: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  let o = 0;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const iy0 = oy * SH - PT, ix0 = ox * SW - PL;
    const ys = max(0, iy0), ye = min(H, iy0 + PH), xs = max(0, ix0), xe = min(W, ix0 + PW);
    const count = <f32>((ye - ys) * (xe - xs));
    let c = 0;
    if (!scalarMode) {
      const cv = f32x4.splat(count);
      for (; c + 4 <= C; c += 4) {
        let s = f32x4.splat(0);
        for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
          s = f32x4.add(s, v128.load(x + (<usize>(((n * H + iy) * W + ix) * C + c) << 2)));
        }
        v128.store(y + (<usize>(o + c) << 2), f32x4.div(s, cv));
      }
    }
    for (; c < C; c++) {
      let s: f32 = 0;
      for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) s += load<f32>(x + (<usize>(((n * H + iy) * W + ix) * C + c) << 2));
      store<f32>(y + (<usize>(o + c) << 2), s / count);
    }
    o += C;
  }
}

export function avgpool2d_backward(dy: usize, dx: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  zero_f32(dx, N * H * W * C);
  let o = 0;
  for (let n = 0; n < N; n++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const iy0 = oy * SH - PT, ix0 = ox * SW - PL;
    const ys = max(0, iy0), ye = min(H, iy0 + PH), xs = max(0, ix0), xe = min(W, ix0 + PW);
    const count = <f32>((ye - ys) * (xe - xs));
    let c = 0;
    if (!scalarMode) {
      const cv = f32x4.splat(count);
      for (; c + 4 <= C; c += 4) {
        const g = f32x4.div(v128.load(dy + (<usize>(o + c) << 2)), cv);
        for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
          const p = dx + (<usize>(((n * H + iy) * W + ix) * C + c) << 2);
          v128.store(p, f32x4.add(v128.load(p), g));
        }
      }
    }
    for (; c < C; c++) {
      const g = load<f32>(dy + (<usize>(o + c) << 2)) / count;
      for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) {
        const p = dx + (<usize>(((n * H + iy) * W + ix) * C + c) << 2);
        store<f32>(p, load<f32>(p) + g);
      }
    }
    o += C;
  }
}
