// node verify.cjs photo-a.jpg photo-b.jpg
const { FaceRecognizer, init, toRgbImage } = require('mobileid');

async function main([a, b]) {
  const recognizer = await FaceRecognizer.create({ engine: await init() });
  const result = recognizer.verify(await toRgbImage(a), await toRgbImage(b));
  console.log({ score: result.score, same: result.same, note: result.note, embedMs: result.timings.embedMs });
  recognizer.dispose();
}

main(process.argv.slice(2));
