// The request handling of the edge examples (Cloudflare Workers, Vercel Edge): POST a multipart
// form with photos "a" and "b"; the answer is JSON, errors included ({ error, message } with a
// 4xx status). Oversized bodies are refused from their Content-Length, before anything is read.
import { MobileIdError, toRgbImage, type FaceRecognizer } from 'mobileid';

/** Largest request body and photo accepted (a phone photo is 2-5 MB). */
export const MAX_BODY_BYTES = 12 * 2 ** 20;
export const MAX_PHOTO_BYTES = 6 * 2 ** 20;

const refuse = (status: number, error: string, message: string) => Response.json({ error, message }, { status });

export async function verifyRequest(request: Request, recognizer: Promise<FaceRecognizer>): Promise<Response> {
  if (request.method !== 'POST') return refuse(405, 'MethodNotAllowed', 'POST a multipart form with photos "a" and "b"');
  if (!(request.headers.get('content-type') ?? '').startsWith('multipart/form-data')) {
    return refuse(415, 'UnsupportedMediaType', 'send multipart/form-data with photos "a" and "b"');
  }
  const length = request.headers.get('content-length');
  if (length === null) return refuse(411, 'LengthRequired', 'the request needs a Content-Length');
  if (!(Number(length) <= MAX_BODY_BYTES)) return refuse(413, 'PayloadTooLarge', `the body may have at most ${MAX_BODY_BYTES} bytes`);
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return refuse(400, 'BadRequest', 'the body is not a valid multipart form');
  }
  const photos = [form.get('a'), form.get('b')];
  if (!photos.every((p): p is Blob => p instanceof Blob)) return refuse(400, 'BadRequest', 'send photos "a" and "b" as files');
  if (photos.some((p) => p.size > MAX_PHOTO_BYTES)) return refuse(413, 'PayloadTooLarge', `a photo may have at most ${MAX_PHOTO_BYTES} bytes`);
  try {
    const [a, b] = await Promise.all(photos.map((p) => toRgbImage(p)));
    const result = (await recognizer).verify(a, b);
    return Response.json({ score: result.score, same: result.same, note: result.note, timings: result.timings });
  } catch (error) {
    // not a JPEG/PNG, corrupt, or over the pixel limit: the client's fault, said in one line
    if (error instanceof MobileIdError) return refuse(422, error.name, error.message);
    throw error;
  }
}
