// Backward pass of ReLU: the gradient passes where the forward output is positive.

/** In place: grad[i] = output[i] > 0 ? grad[i] : 0, for `count` floats. */
export function reluBackward(grad: usize, output: usize, count: i32): void {
  const zero = f32x4.splat(0);
  const vecEnd = count & ~3;
  let i = 0;
  for (; i < vecEnd; i += 4) {
    const at = <usize>i << 2;
    v128.store(grad + at, v128.and(v128.load(grad + at), f32x4.gt(v128.load(output + at), zero)));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    if (!(f32.load(output + at) > 0)) f32.store(grad + at, 0);
  }
}
