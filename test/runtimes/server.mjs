// Node (ESM), Deno and Bun: the packed package as each runtime resolves `import 'mobileid'`.
import { existsSync, readFileSync } from 'node:fs';
import * as lib from 'mobileid';
import { probe } from './probe.mjs';

const models = existsSync('fallback-student.mobileid') ? { mobileid: new Uint8Array(readFileSync('fallback-student.mobileid')) } : {};
const result = await probe(lib, 'input.jpg', { models });
console.log(JSON.stringify({ ...result, resolved: import.meta.resolve('mobileid') }));
