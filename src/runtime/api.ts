/**
 * What every runtime entry exports besides its own init() and toRgbImage(): the package's API
 * (index.ts, the one list) and the raw-pixel helpers every runtime shares.
 */
export * from '../index.js';
export { ImageInputError, toRgba, type RawPixels } from './pixels.js';

