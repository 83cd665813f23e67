// A Web Worker that owns the FaceRecognizer: decoding (createImageBitmap + OffscreenCanvas),
// detection and embedding run here, never on the page's thread. The same API as on the page:
// the "worker" condition of the exports map gives this module dist/browser.js too.
import { FaceRecognizer, init, toRgbImage } from 'mobileid';

const recognizer = init().then((engine) => FaceRecognizer.create({ engine }));

// { id, method: 'embedFaces' | 'detectFaces' | 'verify', images: [File | Blob | ImageBitmap, ...] }
self.onmessage = async ({ data: { id, method, images } }) => {
  try {
    const r = await recognizer;
    const decoded = await Promise.all(images.map((image) => toRgbImage(image)));
    const result = method === 'verify' ? r.verify(decoded[0], decoded[1]) : r[method](decoded[0]);
    self.postMessage({ id, result });
  } catch (error) {
    self.postMessage({ id, error: { name: error.name, message: error.message } });
  }
};
