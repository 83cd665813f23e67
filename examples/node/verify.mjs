// node verify.mjs photo-a.jpg photo-b.jpg
import { FaceRecognizer, init, toRgbImage } from 'mobileid';

const [a, b] = process.argv.slice(2);
const recognizer = await FaceRecognizer.create({ engine: await init() });
const result = recognizer.verify(await toRgbImage(a), await toRgbImage(b));
console.log({ score: result.score, same: result.same, note: result.note, embedMs: result.timings.embedMs });
recognizer.dispose();
