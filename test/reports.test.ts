import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every JSON report under reports/, with its parsed content. */
function reports(dir = 'reports'): { file: string; content: unknown }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return reports(file);
    return entry.name.endsWith('.json') ? [{ file, content: JSON.parse(readFileSync(file, 'utf8')) }] : [];
  });
}

describe('committed LFW reports', () => {
  it("name their ROC plot by a file beside them (null where it was not kept), so a moved report folder keeps the right figure", () => {
    const lfw = reports().filter((r): r is { file: string; content: { roc_png: string | null } } =>
      typeof r.content === 'object' && r.content !== null && 'roc_png' in r.content);
    expect(lfw.length).toBeGreaterThan(50);
    for (const { file, content } of lfw) {
      if (content.roc_png === null) continue;
      expect(path.basename(content.roc_png), file).toBe(content.roc_png);
      expect(existsSync(path.join(path.dirname(file), content.roc_png)), file).toBe(true);
    }
  });
});
