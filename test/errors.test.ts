// Typed errors through the API: file problems, missing bundled models, and every error class the
// README names is exported by the package and is a MobileIdError.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBundledModel, type BundledModelName } from '../src/engine/assets.js';
import { AssetNotFoundError, FileReadError, MobileIdError } from '../src/errors.js';
import * as engineApi from '../src/runtime/engine.js';
import * as api from '../src/runtime/server.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mobileid-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file problems through the API', () => {
  it('toRgbImage of a missing file is a FileReadError naming it, not a bare ENOENT', async () => {
    const missing = path.join(dir, 'missing.jpg');
    const error = await api.toRgbImage(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileReadError);
    expect(error).toBeInstanceOf(MobileIdError);
    expect(error).toMatchObject({ name: 'FileReadError', code: 'ENOENT', path: missing, message: `cannot read ${missing}: no such file` });
  });

  it('toRgbImage of a folder is a FileReadError saying so', async () => {
    await expect(api.toRgbImage(dir)).rejects.toMatchObject({ name: 'FileReadError', code: 'EISDIR', message: `cannot read ${dir}: is a directory, not a file` });
  });

  it('loadBundledModel of a model this build does not have is an AssetNotFoundError', async () => {
    await expect(loadBundledModel('resnet' as BundledModelName)).rejects.toThrow(AssetNotFoundError);
    await expect(loadBundledModel('resnet' as BundledModelName)).rejects.toThrow(/unknown bundled model "resnet"; known: mobileid, mobileidInt8, teacher, landmarks68, detector/);
  });
});

describe('the README', () => {
  it('every exported error class names itself (a name that survives minification)', () => {
    const classes = Object.entries({ ...engineApi, ...api }).filter(([, v]) => typeof v === 'function' && (v === MobileIdError || v.prototype instanceof MobileIdError));
    expect(classes.length).toBeGreaterThan(20);
    for (const [exported, Class] of classes) expect(new (Class as new (m: string, ...rest: unknown[]) => Error)('x').name, exported).toBe(exported);
  });

  it('names only error classes the package or mobileid/engine exports, all of them MobileIdErrors', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('\n#', readme.indexOf('### Errors') + 1));
    const named = [...new Set([...section.matchAll(/`(\w+Error)`/g)].map((m) => m[1]))];
    expect(named.length).toBeGreaterThan(10);
    const exports = { ...engineApi, ...api } as unknown as Record<string, unknown>;
    expect(named).toContain('MobileIdError');
    expect(exports.MobileIdError).toBe(MobileIdError);
    for (const name of named.filter((n) => n !== 'MobileIdError')) {
      expect(typeof exports[name], name).toBe('function');
      expect((exports[name] as { prototype: unknown }).prototype, name).toBeInstanceOf(MobileIdError);
    }
  });
});
