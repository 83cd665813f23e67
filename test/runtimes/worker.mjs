// Cloudflare workerd: the edge entry with its wasm imported as a module; models and the input
// arrive as Data modules (what wrangler makes of `import x from './file.bin'`). The input is the
// PNG: edge bundles decode JPEG with jpeg-js, whose pixels differ slightly from libjpeg-turbo's
// (the Node reference), while PNG decodes to the same pixels everywhere.
import * as lib from 'mobileid';
import input from './input.png';
import landmarks68 from './landmarks68.mobileid';
import student from './student.mobileid';
import detector from './tiny-face-detector.mobileid';
import { probe } from './probe.mjs';

export default {
  async fetch() {
    const models = { detector: new Uint8Array(detector), landmarks68: new Uint8Array(landmarks68), mobileid: new Uint8Array(student) };
    const result = await probe(lib, new Uint8Array(input), { models });
    const compileFromBytesRefused = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => false, () => true);
    return Response.json({ ...result, compileFromBytesRefused });
  },
};
