/**
 * The demo page: two photos (picked files or bundled samples) -> FaceRecognizer.verify ->
 * the aligned crops, the score, the decision and the time spent embedding. `mobileid` is the
 * package's browser entry (dist/browser.js through the page's import map).
 */
import { FaceRecognizer, init, toRgbImage, toRgba, type RgbImage } from 'mobileid';
import { alignForStudent, loadBundledModel } from 'mobileid/engine';
import type { DemoResult } from './result.js';

const SAMPLES = [
  { file: 'a.jpg', label: 'sample: person 1' },
  { file: 'a-variant.jpg', label: 'sample: person 1 (mirrored, brighter)' },
  { file: 'b.jpg', label: 'sample: person 2' },
];
const DEFAULT_SAMPLES = { A: 'a.jpg', B: 'a-variant.jpg' };

declare global {
  interface Window {
    demoResult: DemoResult;
  }
}

/** The photo panel for `side`, stamped from the page's template (the panels differ only in their side). */
function addSide(side: 'A' | 'B'): void {
  const template = document.querySelector<HTMLTemplateElement>('template#side')!;
  const section = template.content.firstElementChild!.cloneNode(true) as HTMLElement;
  section.dataset.side = side;
  section.querySelector('h2')!.textContent = `Photo ${side}`;
  document.querySelector('.sides')!.append(section);
}
addSide('A');
addSide('B');

const resultBox = document.querySelector<HTMLElement>('#result')!;
const images: Record<'A' | 'B', RgbImage | null> = { A: null, B: null };

function publish(result: DemoResult, html: string): void {
  window.demoResult = result;
  resultBox.dataset.state = result.state;
  resultBox.innerHTML = html;
}

/** The bundled student, or (only while the build ships none) the server's random-weights stand-in. */
async function studentModel(): Promise<Uint8Array> {
  try {
    return await loadBundledModel('mobileid');
  } catch {
    const response = await fetch('/fallback-student.mobileid');
    if (!response.ok) throw new Error('no student model: neither dist/models/mobileid-student.mobileid nor a fallback is served');
    const banner = document.querySelector<HTMLElement>('#banner')!;
    banner.textContent = 'This build ships no trained student model yet: the page uses random weights, so scores and decisions are meaningless.';
    banner.hidden = false;
    return new Uint8Array(await response.arrayBuffer());
  }
}

function drawPhoto(canvas: HTMLCanvasElement, image: RgbImage, recognizer: FaceRecognizer): number {
  const faces = recognizer.detectFaces(image);
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d')!;
  context.putImageData(imageData(image), 0, 0);
  const stroke = Math.max(2, image.width / 150);
  for (const [i, face] of faces.entries()) {
    context.strokeStyle = i === 0 ? '#2ecc71' : '#f1c40f';
    context.lineWidth = stroke;
    context.strokeRect(face.box.x, face.box.y, face.box.width, face.box.height);
    context.fillStyle = '#e74c3c';
    for (const [x, y] of face.landmarks5) context.fillRect(x - stroke, y - stroke, 2 * stroke, 2 * stroke);
  }
  return faces.length;
}

const imageData = (image: RgbImage) => new ImageData(toRgba(image), image.width, image.height);

async function compare(recognizer: FaceRecognizer): Promise<void> {
  const { A, B } = images;
  if (!A || !B) return;
  publish({ ...window.demoResult, state: 'working' }, 'Comparing&hellip;');
  const counts: number[] = [];
  let cropsDrawn = 0;
  for (const [side, image] of [['A', A], ['B', B]] as const) {
    const section = document.querySelector(`[data-side="${side}"]`)!;
    counts.push(drawPhoto(section.querySelector<HTMLCanvasElement>('canvas.photo')!, image, recognizer));
    const crop = section.querySelector<HTMLCanvasElement>('canvas.crop')!;
    crop.getContext('2d')!.clearRect(0, 0, crop.width, crop.height);
    const [face] = recognizer.detectFaces(image).sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
    if (face) {
      crop.getContext('2d')!.putImageData(imageData(alignForStudent(image, face.landmarks5).chip), 0, 0);
      cropsDrawn++;
    }
  }
  const result = recognizer.verify(A, B);
  const decision = result.same === null ? 'no decision' : result.same ? 'same person' : 'different people';
  const css = result.same === null ? 'undecided' : result.same ? 'same' : 'different';
  const t = result.timings;
  publish(
    { state: 'done', score: result.score, decision, embedMs: t.embedMs, facesA: counts[0], facesB: counts[1], cropsDrawn },
    `<div class="decision ${css}">${decision}</div>
     <div>score ${result.score === null ? '&ndash;' : result.score.toFixed(3)} (${result.verifier}${result.threshold === null ? ', no threshold' : `, threshold ${result.threshold.toFixed(3)}`}) &middot; ${result.note}</div>
     <div>embedding ${t.embedMs.toFixed(2)} ms for 2 faces &middot; detection ${t.detectMs.toFixed(1)} ms &middot; landmarks ${t.landmarksMs.toFixed(1)} ms &middot; decoding done by the browser</div>`,
  );
}

async function main(): Promise<void> {
  publish({ state: 'loading', score: null, decision: '', embedMs: 0, facesA: 0, facesB: 0, cropsDrawn: 0 }, 'Loading the models&hellip;');
  const engine = await init();
  const recognizer = await FaceRecognizer.create({ engine, models: { student: await studentModel() } });
  const load = async (side: 'A' | 'B', source: Blob) => {
    images[side] = await toRgbImage(source);
    await compare(recognizer);
  };
  for (const side of ['A', 'B'] as const) {
    const section = document.querySelector(`[data-side="${side}"]`)!;
    const select = section.querySelector('select')!;
    select.innerHTML = SAMPLES.map((s) => `<option value="${s.file}">${s.label}</option>`).join('');
    select.value = DEFAULT_SAMPLES[side];
    select.addEventListener('change', async () => load(side, await (await fetch(`/samples/${select.value}`)).blob()));
    section.querySelector<HTMLInputElement>('input[type=file]')!.addEventListener('change', (event) => {
      const file = (event.target as HTMLInputElement).files?.[0];
      if (file) void load(side, file);
    });
    images[side] = await toRgbImage(await (await fetch(`/samples/${DEFAULT_SAMPLES[side]}`)).blob());
  }
  await compare(recognizer);
}

main().catch((error: Error) => {
  publish({ ...window.demoResult, state: 'error', error: `${error.name}: ${error.message}` }, `${error.name}: ${error.message}`);
});
