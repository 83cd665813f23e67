/**
 * The computation every runtime test performs, written once in plain JavaScript so each
 * runtime loads it unchanged: FaceRecognizer on the image (detector -> 68 landmarks -> aligned
 * crop -> student embedding), then the whole pipeline (detect, landmarks, embed) timed on that image. `lib` is the
 * mobileid package as that runtime resolved it; `models` overrides bundled model files (edge
 * runtimes have no file system; a build may lack the trained student).
 */
export async function probe(lib, input, { models = {}, runs = 5 } = {}) {
  const engine = await lib.init();
  const image = await lib.toRgbImage(input);
  const recognizer = await lib.FaceRecognizer.create({ engine, models: { detector: models.detector, landmarks: models.landmarks68, student: models.mobileid } });
  const faces = recognizer.embedFaces(image);
  if (faces.length !== 1) throw new Error(`expected one face in the probe image, found ${faces.length}`);
  const [{ face, embedding }] = faces;

  const start = performance.now();
  for (let i = 0; i < runs; i++) recognizer.embedFaces(image);
  const ms = (performance.now() - start) / runs;
  return { width: image.width, height: image.height, box: face.box, embedding: Array.from(embedding), ms };
}
