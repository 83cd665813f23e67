// POST a multipart form with photos "a" and "b"; answers the verification as JSON. Oversized
// bodies (413), other content (415) and files that are not photos (422) get a JSON error.
import { FaceRecognizer, init } from 'mobileid';
import { verifyRequest } from '../../../../edge/verify-request';

export const runtime = 'edge';

// new URL('./file', import.meta.url) with a literal path is how Next.js bundles an asset for the edge.
const bytes = async (url: URL) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const recognizer = (async () =>
  FaceRecognizer.create({
    engine: await init(),
    models: {
      detector: await bytes(new URL('./tiny-face-detector.mobileid', import.meta.url)),
      landmarks: await bytes(new URL('./landmarks68.mobileid', import.meta.url)),
      student: await bytes(new URL('./mobileid-student.int8.mobileid', import.meta.url)),
    },
  }))();

export const POST = (request: Request): Promise<Response> => verifyRequest(request, recognizer);
