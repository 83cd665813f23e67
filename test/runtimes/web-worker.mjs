// Chromium: examples/browser/face-worker.js as a module Web Worker (run.ts copies it here as
// face-worker.js with `mobileid` pointed at the installed dist/browser.js, since module workers
// do not read the page's import map), called as worker.html calls it: embedFaces on a Blob.
// The PNG input decodes to the same pixels in every runtime, so the embedding is comparable.
async function main() {
  const worker = new Worker(new URL('./face-worker.js', import.meta.url), { type: 'module' });
  const input = await (await fetch('input.png')).blob();
  const start = performance.now();
  const answer = await new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.error ? reject(new Error(`${data.error.name}: ${data.error.message}`)) : resolve(data.result));
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
    worker.postMessage({ id: 0, method: 'embedFaces', images: [input] });
  });
  const ms = performance.now() - start;
  worker.terminate();
  if (answer.length !== 1) throw new Error(`expected one face from the worker, got ${answer.length}`);
  const [{ face, embedding }] = answer;
  return { width: 0, height: 0, box: face.box, embedding: Array.from(embedding), ms, resolved: new URL('./node_modules/mobileid/dist/browser.js', location.href).href };
}

window.__result = main();
