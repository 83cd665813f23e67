// Entry of a worker thread that runs a TypeScript module of a checkout (see node-worker.ts): tsx
// is found from this file's folder, not from the current directory, then the module named by
// the last argument is loaded.
import { register } from 'tsx/esm/api';

register();
await import(process.argv.at(-1));
