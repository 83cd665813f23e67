// POST a multipart form with photos "a" and "b"; answers the verification as JSON.
import { FaceRecognizer, init, toRgbImage } from 'mobileid';
import detector from 'mobileid/models/tiny-face-detector.mobileid';
import landmarks from 'mobileid/models/landmarks68.mobileid';
import student from 'mobileid/models/mobileid-student.mobileid';

// Workers cannot compile wasm from bytes or read files: the engine comes from the imported
// module and the models from Data modules. Created once per isolate.
const recognizer = init().then((engine) =>
  FaceRecognizer.create({
    engine,
    models: { detector: new Uint8Array(detector), landmarks: new Uint8Array(landmarks), student: new Uint8Array(student) },
  }),
);

export default {
  async fetch(request: Request): Promise<Response> {
    const form = await request.formData();
    const [a, b] = [form.get('a'), form.get('b')];
    if (!(a instanceof Blob) || !(b instanceof Blob)) return new Response('send photos "a" and "b"', { status: 400 });
    const result = (await recognizer).verify(await toRgbImage(a), await toRgbImage(b));
    return Response.json({ score: result.score, same: result.same, note: result.note, timings: result.timings });
  },
};
