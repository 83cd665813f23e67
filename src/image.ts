/** An 8-bit RGB image: 3 bytes per pixel, row-major, no padding between rows. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}
