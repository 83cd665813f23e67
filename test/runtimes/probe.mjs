/**
 * The computation every runtime test performs, written once in plain JavaScript so each
 * runtime loads it unchanged: FaceRecognizer on the image (detector -> 68 landmarks -> aligned
 * crop -> student embedding), then the student alone timed on the face it found. `lib` is the
 * mobileid package as that runtime resolved it; `models` overrides bundled model files (edge
 * runtimes have no file system; a build may lack the trained student).
 */
export async function probe(lib, input, { models = {}, runs = 20 } = {}) {
  const load = async (name) => models[name] ?? lib.loadBundledModel(name);
  const engine = await lib.init();
  const image = await lib.toRgbImage(input);
  const [detector, landmarks, student] = await Promise.all(['detector', 'landmarks68', 'mobileid'].map(load));
  const recognizer = await lib.FaceRecognizer.create({ engine, models: { detector, landmarks, student } });
  const faces = recognizer.embedFaces(image);
  if (faces.length !== 1) throw new Error(`expected one face in the probe image, found ${faces.length}`);
  const [{ face, embedding }] = faces;

  const studentNet = new lib.StudentNet(engine.loadModel(student));
  const crop = [{ image, landmarks: face.landmarks5 }];
  studentNet.embed(crop); // warm-up
  const start = performance.now();
  for (let i = 0; i < runs; i++) studentNet.embed(crop);
  const ms = (performance.now() - start) / runs;
  return { width: image.width, height: image.height, box: face.box, embedding: Array.from(embedding), ms };
}
