// deno run --allow-read verify.ts photo-a.jpg photo-b.jpg
// (in a project with mobileid in package.json; elsewhere import from 'npm:mobileid')
import { FaceRecognizer, init, toRgbImage } from 'mobileid';

const [a, b] = Deno.args;
const recognizer = await FaceRecognizer.create({ engine: await init() });
const result = recognizer.verify(await toRgbImage(a), await toRgbImage(b));
console.log({ score: result.score, same: result.same, note: result.note, embedMs: result.timings.embedMs });
recognizer.dispose();
