// bun verify.ts photo-a.jpg photo-b.jpg
import { FaceRecognizer, init, toRgbImage } from 'mobileid';

const [a, b] = Bun.argv.slice(2);
const recognizer = await FaceRecognizer.create({ engine: await init() });
const result = recognizer.verify(await toRgbImage(Bun.file(a)), await toRgbImage(Bun.file(b)));
console.log({ score: result.score, same: result.same, note: result.note, embedMs: result.timings.embedMs });
recognizer.dispose();
