// The CLI as a user runs it (node bin/mobileid.js ...): exit codes, one-line errors, the JSON
// last line, and the files it writes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { faceApiDir } from './faceapi-reference.js';

const out = mkdtempSync(path.join(tmpdir(), 'mobileid-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function cli(...args: string[]) {
  const run = spawnSync(process.execPath, ['bin/mobileid.js', ...args], { encoding: 'utf8', timeout: 300_000 });
  const lines = run.stdout.trim().split('\n');
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, last: lines[lines.length - 1] };
}

describe('mobileid CLI', () => {
  it('rejects unknown commands and bad options with a one-line message', () => {
    const unknown = cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const badVerifier = cli('eval-lfw', '--verifier', 'magic');
    expect(badVerifier.code).toBe(2);
    expect(badVerifier.stderr).toMatch(/--verifier must be jb, cosine or euclidean/);
    expect(badVerifier.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it.skipIf(!existsSync('../shared/data/lfw/pairs.txt'))('eval-lfw says how to prepare data when the cache is missing (needs ../shared/data/lfw)', () => {
    const run = cli('eval-lfw', '--model', 'teacher', '--prepared', path.join(out, 'nothing-here'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/prepare-data/);
  });

  it('gallery lays out a folder of photos and reports its stages as JSON', () => {
    const png = path.join(out, 'g.png');
    const run = cli('gallery', path.join(faceApiDir, 'demo'), '--out', png, '--size', '400', '--thumb', '40',
      '--model', 'teacher', '--workers', '1', '--json');
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.last);
    expect(summary.images).toBeGreaterThanOrEqual(6);
    expect(Object.keys(summary.seconds)).toEqual(['embed', 'tsne', 'render']);
    expect(summary.out).toBe(png);
    const image = PNG.sync.read(readFileSync(png));
    expect([image.width, image.height]).toEqual([400, 400]);
    const coords = JSON.parse(readFileSync(`${png}.json`, 'utf8')).coordinates;
    expect(coords).toHaveLength(summary.images);
    expect(existsSync(png)).toBe(true);
  });
});
