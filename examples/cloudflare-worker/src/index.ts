// POST a multipart form with photos "a" and "b"; answers the verification as JSON. Oversized
// bodies (413), other content (415) and files that are not photos (422) get a JSON error.
import { FaceRecognizer, init } from 'mobileid';
import detector from 'mobileid/models/tiny-face-detector.mobileid';
import landmarks from 'mobileid/models/landmarks68.mobileid';
import student from 'mobileid/models/mobileid-student.int8.mobileid';
import { verifyRequest } from '../../edge/verify-request';

// Workers cannot compile wasm from bytes or read files: the engine comes from the imported
// module and the models from Data modules. Created once per isolate.
const recognizer = init().then((engine) =>
  FaceRecognizer.create({
    engine,
    models: { detector: new Uint8Array(detector), landmarks: new Uint8Array(landmarks), student: new Uint8Array(student) },
  }),
);

export default {
  fetch: (request: Request): Promise<Response> => verifyRequest(request, recognizer),
};
