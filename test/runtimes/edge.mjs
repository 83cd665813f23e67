// Vercel Edge (edge-runtime): the edge-light entry; the runner compiles mobileid.wasm outside
// the sandbox, as Next.js does for `?module` imports, and hands in the file bytes.
import * as lib from 'mobileid';
import { probe } from './probe.mjs';

const { input, detector, landmarks68, student } = globalThis.__fixture;
globalThis.__result = probe(lib, input, { models: { detector, landmarks68, mobileid: student } });
