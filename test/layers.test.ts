/**
 * The folders of src/ are layers, and imports only point down: a file may import its own layer
 * and the layers below it, never one above. tools/ (what builds the models: data preparation,
 * training, LFW evaluation, the face-api converter, plots) sits on top, so the library cannot
 * reach it. Read from the sources' import statements, type-only imports included. Within a
 * folder a type-only import may point back (a Model names its Engine): it is erased when
 * compiled, so only imports of values must form no cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Bottom to top (the README's map lists them top down). Files directly in src/ by name, folders by name. */
const LAYERS: readonly string[] = [
  'errors.ts image.ts jpeg-decoder.ts jpeg-decoder.web.ts node-worker.ts tsx-worker.mjs', // shared basics
  'math',
  'engine',
  'verify', // embeddings in, scores out: it knows nothing of faces
  'face', // the recognizer uses a verifier
  'gallery',
  'index.ts', // the library's API
  'runtime', // the per-runtime entries: the API plus init() and input decoding
  'cli',
  'cli.ts',
  'tools',
];

/**
 * The one import from a shipped file into tools/: the CLI's command table lazily loads eval-lfw,
 * which works only in a checkout (it reads the LFW data and the prepared cache).
 */
const EXCEPTIONS = new Set(['cli.ts -> tools/eval-lfw.ts']);

function layerOf(file: string): number {
  const [head, ...rest] = file.split('/');
  const name = rest.length ? head : file;
  const index = LAYERS.findIndex((layer) => layer.split(' ').includes(name));
  if (index < 0) throw new Error(`src/${file} is in no layer: add its folder to LAYERS in test/layers.test.ts`);
  return index;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s(type\s)?[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

interface Imports {
  all: string[];
  values: string[];
}

/** The src/ files that `text` (the contents of src/`file`) imports; packages and assets left out. */
function importsOf(file: string, text: string, known: ReadonlySet<string>): Imports {
  const found: Imports = { all: [], values: [] };
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[2] ?? match[3] ?? match[4];
    if (!specifier.startsWith('.')) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    const resolved = [target, `${target}.ts`].find((t) => known.has(t));
    if (!resolved) continue;
    found.all.push(resolved);
    if (!match[1]) found.values.push(resolved);
  }
  return found;
}

/** Every src/ file and what it imports: all imports, and the imports of values only. */
function importGraphs(): { all: Map<string, string[]>; values: Map<string, string[]> } {
  const files = sourceFiles();
  const known = new Set(files);
  const imports = files.map((file) => [file, importsOf(file, readFileSync(path.join(SRC, file), 'utf8'), known)] as const);
  return { all: new Map(imports.map(([f, i]) => [f, i.all])), values: new Map(imports.map(([f, i]) => [f, i.values])) };
}

/** Every import that points up a layer, as "from -> to". */
function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      const edge = `${file} -> ${target}`;
      if (layerOf(target) > layerOf(file) && !EXCEPTIONS.has(edge)) wrong.push(`${edge} (${LAYERS[layerOf(file)]} may not import ${LAYERS[layerOf(target)]})`);
    }
  }
  return wrong;
}

/** One import cycle as "a -> b -> a", or undefined when the graph has none. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file].join(' -> ');
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('layers of src/', () => {
  const { all: graph, values } = importGraphs();

  it('places every source file in a layer', () => {
    for (const file of graph.keys()) expect(() => layerOf(file), file).not.toThrow();
  });

  it('reads the imports it checks', () => {
    expect(graph.get('face/recognizer.ts')).toContain('verify/verifier.ts');
    expect(graph.get('cli.ts')).toContain('cli/demo.ts'); // a lazy import()
    expect(graph.get('runtime/api.ts')).toContain('index.ts'); // export * from
    expect(graph.get('engine/model.ts')).toContain('engine/engine.ts'); // import type
    expect(values.get('engine/model.ts')).not.toContain('engine/engine.ts');
  });

  it('imports only point down: no shipped file reaches tools/, no layer reaches a higher one', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('the exceptions are still needed', () => {
    const edges = new Set([...graph].flatMap(([file, targets]) => targets.map((t) => `${file} -> ${t}`)));
    expect([...EXCEPTIONS].filter((edge) => !edges.has(edge))).toEqual([]);
  });

  it('no file imports itself through others', () => {
    expect(findCycle(values)).toBeUndefined();
  });

  it('the checks catch an upward import and a cycle', () => {
    const bad = new Map([
      ['engine/model.ts', ['tools/plot.ts']],
      ['math/a.ts', ['math/b.ts']],
      ['math/b.ts', ['math/a.ts']],
    ]);
    expect(upwardImports(bad)).toEqual(['engine/model.ts -> tools/plot.ts (engine may not import tools)']);
    expect(findCycle(bad)).toBe('math/a.ts -> math/b.ts -> math/a.ts');
  });
});
