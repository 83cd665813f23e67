// POST a multipart form with photos "a" and "b"; answers the verification as JSON.
import { FaceRecognizer, init, toRgbImage } from 'mobileid';

export const runtime = 'edge';

// new URL('./file', import.meta.url) with a literal path is how Next.js bundles an asset for the edge.
const bytes = async (url: URL) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const recognizer = (async () =>
  FaceRecognizer.create({
    engine: await init(),
    models: {
      detector: await bytes(new URL('./tiny-face-detector.mobileid', import.meta.url)),
      landmarks: await bytes(new URL('./landmarks68.mobileid', import.meta.url)),
      student: await bytes(new URL('./mobileid-student.mobileid', import.meta.url)),
    },
  }))();

export async function POST(request: Request): Promise<Response> {
  const form = await request.formData();
  const [a, b] = [form.get('a'), form.get('b')];
  if (!(a instanceof Blob) || !(b instanceof Blob)) return new Response('send photos "a" and "b"', { status: 400 });
  const result = (await recognizer).verify(await toRgbImage(a), await toRgbImage(b));
  return Response.json({ score: result.score, same: result.same, note: result.note, timings: result.timings });
}
