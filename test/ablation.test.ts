import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ABLATION_VARIANTS, DEFAULT_ABLATION_VARIANTS, planAblation } from '../src/tools/train/ablation.js';
import { TrainingError } from '../src/tools/train/errors.js';

const base = { epochs: 4, data: ['d/fairface', 'd/celeba'], lfw: 'd/lfw' };

/** The value after `flag` in an argument list. */
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('planAblation', () => {
  it('gives every default variant the same data, epochs, split and schedule, differing in its one setting', () => {
    const runs = planAblation({ ...base, runs: [...DEFAULT_ABLATION_VARIANTS] });
    expect(runs.map((r) => r.name)).toEqual(['plain', 'bn', 'bn-prelu', 'bn-l2', 'bn-rkd', 'bn-neuron']);
    for (const run of runs) {
      expect(after(run.distill, '--data')).toBe('d/fairface,d/celeba');
      expect(after(run.distill, '--epochs')).toBe('4');
      expect(after(run.distill, '--arch')).toBe('deep');
      expect(after(run.distill, '--out')).toBe(run.model);
      expect(run.distill).toContain('--resume');
      expect(run.distill.filter((a) => ['--seed', '--lr', '--batch', '--val'].includes(a))).toEqual([]);
      expect(run.evaluate).toEqual(['eval-lfw', '--model', run.model, '--prepared', 'd/lfw', '--verifier', 'cosine', '--mirror', '--report-dir', 'reports/ablation']);
    }
    const [plain, bn, prelu, l2, rkd, neuron] = runs;
    const setting = (args: string[]) => ({
      batchNorm: args.includes('--batch-norm'), activation: args.includes('--activation') ? after(args, '--activation') : 'relu',
      standardize: after(args, '--standardize'), cosine: after(args, '--cosine-weight'),
      relation: args.includes('--relation-weight') ? after(args, '--relation-weight') : '0',
    });
    const baseline = { batchNorm: true, activation: 'relu', standardize: 'global', cosine: '16', relation: '0' };
    expect(setting(bn.distill)).toEqual(baseline);
    expect(setting(plain.distill)).toEqual({ ...baseline, batchNorm: false });
    expect(setting(prelu.distill)).toEqual({ ...baseline, activation: 'prelu' });
    expect(setting(l2.distill)).toEqual({ ...baseline, cosine: '0' });
    expect(setting(rkd.distill)).toEqual({ ...baseline, relation: '25' });
    expect(setting(neuron.distill)).toEqual({ ...baseline, standardize: 'neuron' });
  });

  it.each([['bn-prelu-conv5', 'conv5'], ['bn-prelu-mobile', 'mobile']] as const)('%s differs from bn-prelu in its layout alone', (variant, layout) => {
    const [run] = planAblation({ ...base, runs: [variant] });
    expect(after(run.distill, '--arch')).toBe(layout);
    const withoutLayout = (flags: readonly string[]) => flags.map((a, i) => (flags[i - 1] === '--arch' ? 'LAYOUT' : a));
    expect(withoutLayout(ABLATION_VARIANTS[variant].flags)).toEqual(withoutLayout(ABLATION_VARIANTS['bn-prelu'].flags));
  });

  it('runs a variant under another name with its own model, checkpoint and reports', () => {
    const [run] = planAblation({ ...base, runs: ['bn-prelu@bn-prelu-v8'], workDir: 'w', reportDir: 'r' });
    expect(run.variant).toBe('bn-prelu');
    expect(run.model).toBe('w/bn-prelu-v8.mobileid');
    expect(after(run.distill, '--checkpoint-dir')).toBe('w/ckpt-bn-prelu-v8');
    expect(run.distill).toEqual(expect.arrayContaining([...ABLATION_VARIANTS['bn-prelu'].flags]));
    expect(run.reports).toEqual([
      ['w/bn-prelu-v8.train.md', 'r/bn-prelu-v8.train.md'],
      ['w/bn-prelu-v8.train.json', 'r/bn-prelu-v8.train.json'],
      ['w/bn-prelu-v8.loss.png', 'r/bn-prelu-v8.loss.png'],
    ]);
  });

  it.each([
    [{ runs: ['nope'] }, /unknown variant 'nope'/],
    [{ runs: ['constructor'] }, /unknown variant/],
    [{ runs: ['bn@a/b'] }, /run name 'bn@a\/b'/],
    [{ runs: ['bn@'] }, /run name/],
    [{ runs: ['bn@x@y'] }, /run name/],
    [{ runs: ['bn', 'plain@bn'] }, /'bn' given twice/],
    [{ runs: [] }, /no variants/],
    [{ runs: ['bn'], epochs: 0 }, /epochs must be/],
    [{ runs: ['bn'], epochs: 1.5 }, /epochs must be/],
    [{ runs: ['bn'], data: [] }, /no prepared data/],
  ])('refuses %j', (options, message) => {
    expect(() => planAblation({ ...base, ...options })).toThrow(TrainingError);
    expect(() => planAblation({ ...base, ...options })).toThrow(message);
  });
});

describe('npm run ablation', () => {
  const script = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/ablation.ts', ...args], { encoding: 'utf8' });

  it('prints the distill and eval-lfw commands of each run with --dry-run, and runs nothing', () => {
    const run = script('--dry-run', '--variants', 'bn,bn-prelu@v8', '--data', 'x/fairface', '--lfw', 'x/lfw', '--report-dir', 'nowhere/reports');
    expect(run.status).toBe(0);
    const commands = run.stderr.split('\n').filter((l) => l.startsWith('$ '));
    expect(commands).toEqual([
      expect.stringMatching(/^\$ scripts\/distill\.ts --out \.cache\/ablation\/bn\.mobileid --data x\/fairface --epochs 4 .*--batch-norm/),
      '$ src/cli.ts eval-lfw --model .cache/ablation/bn.mobileid --prepared x/lfw --verifier cosine --mirror --report-dir nowhere/reports',
      expect.stringMatching(/^\$ scripts\/distill\.ts --out \.cache\/ablation\/v8\.mobileid .*--activation prelu/),
      '$ src/cli.ts eval-lfw --model .cache/ablation/v8.mobileid --prepared x/lfw --verifier cosine --mirror --report-dir nowhere/reports',
    ]);
  });

  it.each([
    [['--variants', 'nope'], /^ablation: unknown variant 'nope' \(known: plain, bn, /m],
    [['--epochs', 'two'], /^ablation: --epochs must be a whole number >= 1, got two$/m],
    [['--epochs', '0'], /^ablation: epochs must be a whole number >= 1, got 0$/m],
    [['--bogus'], /^ablation: unknown option --bogus \(the options are listed at the top of scripts\/ablation.ts\)$/m],
  ])('refuses %j with one line and exit code 2', (args, message) => {
    const run = script(...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
