/**
 * The computation every runtime test performs, written once in plain JavaScript so each
 * runtime loads it unchanged: image -> 68 landmarks (a central box, two passes) -> the
 * student's embedding of the aligned crop. `lib` is the mobileid package as that runtime
 * resolved it; `models` overrides bundled model files (edge runtimes, a missing student).
 */
export async function probe(lib, input, { models = {}, runs = 20 } = {}) {
  const load = async (name) => models[name] ?? lib.loadBundledModel(name);
  const engine = await lib.init();
  const image = await lib.toRgbImage(input);
  const landmarkNet = new lib.LandmarkNet(engine.loadModel(await load('landmarks68')));
  const student = new lib.StudentNet(engine.loadModel(await load('mobileid')));

  const side = 0.6 * Math.min(image.width, image.height);
  const box = { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
  const [points] = landmarkNet.detect([{ image, box }], 2);
  const faces = [{ image, landmarks: lib.landmarks68To5(points) }];

  let embedding = student.embed(faces); // warm-up
  const start = performance.now();
  for (let i = 0; i < runs; i++) embedding = student.embed(faces);
  const ms = (performance.now() - start) / runs;
  return { width: image.width, height: image.height, embedding: Array.from(embedding), ms };
}
