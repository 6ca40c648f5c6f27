// ZeroPadding2D and Cropping2D on NHWC: pure data movement, whole rows at a time with memory.copy and
// memory.fill. Each is the other's gradient: padding's dx is dy cropped, cropping's dx is dy padded.

/** y [N, H+PT+PB, W+PL+PR, C] = x [N, H, W, C] with zero borders. */
export function zero_pad2d(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32, PT: i32, PB: i32, PL: i32, PR: i32): void {
  const OW = W + PL + PR;
  const rowIn = <usize>(W * C) << 2, rowOut = <usize>(OW * C) << 2;
  const left = <usize>(PL * C) << 2, right = <usize>(PR * C) << 2;
  let src = x, dst = y;
  for (let n = 0; n < N; n++) {
    memory.fill(dst, 0, <usize>PT * rowOut);
    dst += <usize>PT * rowOut;
    for (let iy = 0; iy < H; iy++) {
      memory.fill(dst, 0, left);
      memory.copy(dst + left, src, rowIn);
      memory.fill(dst + left + rowIn, 0, right);
      src += rowIn;
      dst += rowOut;
    }
    memory.fill(dst, 0, <usize>PB * rowOut);
    dst += <usize>PB * rowOut;
  }
}

/** y [N, H-CT-CB, W-CL-CR, C] = the interior of x [N, H, W, C]. */
export function crop2d(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32, CT: i32, CB: i32, CL: i32, CR: i32): void {
  const OH = H - CT - CB, OW = W - CL - CR;
  const rowIn = <usize>(W * C) << 2, rowOut = <usize>(OW * C) << 2;
  let dst = y;
  for (let n = 0; n < N; n++) {
    let src = x + (<usize>n * <usize>H + <usize>CT) * rowIn + (<usize>(CL * C) << 2);
    for (let oy = 0; oy < OH; oy++) {
      memory.copy(dst, src, rowOut);
      src += rowIn;
      dst += rowOut;
    }
  }
}
