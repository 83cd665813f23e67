// The CLI's shared argument parser: typed values, defaults, one-line errors naming the option,
// positional counts, and help generated from the same option table.
import { describe, expect, it } from 'vitest';
import { formatHelp, parseCommand, type CommandSpec } from '../src/cli/args.js';
import { CliError } from '../src/cli/cli-error.js';
import { MobileIdError } from '../src/errors.js';

const spec = {
  name: 'try',
  summary: 'a command for the tests',
  args: ['<first>', '[more...]'],
  options: {
    size: { type: 'integer', min: 32, max: 2048, multipleOf: 32, value: 'N', defaultText: "the model's 416", description: 'input side' },
    ratio: { type: 'number', default: 0.5, min: 0, max: 1, description: 'a fraction' },
    kind: { type: 'string', default: 'jb', choices: ['jb', 'cosine', 'euclidean'], description: 'a choice' },
    name: { type: 'string', value: 'TEXT', description: 'free text' },
    json: { type: 'boolean', default: false, description: 'a flag' },
  },
  examples: ['mobileid try x --size 64'],
} as const satisfies CommandSpec;

/** The CliError message parseCommand throws for argv. */
function problem(argv: string[]): string {
  try {
    parseCommand(spec, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect(error).toBeInstanceOf(MobileIdError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseCommand', () => {
  it('converts values to their types and fills in defaults', () => {
    const { values, positionals } = parseCommand(spec, ['a', '--size', '64', 'b', '--ratio=0.25', '--json', '--kind', 'cosine']);
    expect(values).toEqual({ size: 64, ratio: 0.25, kind: 'cosine', name: undefined, json: true });
    expect(positionals).toEqual(['a', 'b']);
    expect(parseCommand(spec, ['a']).values).toEqual({ size: undefined, ratio: 0.5, kind: 'jb', name: undefined, json: false });
  });

  it('names the option in every complaint about a value', () => {
    expect(problem(['a', '--size', 'big'])).toBe('--size must be a number, got "big"');
    expect(problem(['a', '--size', ''])).toBe('--size must be a number, got ""');
    expect(problem(['a', '--size', '64.5'])).toBe('--size must be a whole number, got "64.5"');
    expect(problem(['a', '--size', '16'])).toBe('--size must be >= 32, got 16');
    expect(problem(['a', '--size', '4096'])).toBe('--size must be <= 2048, got 4096');
    expect(problem(['a', '--size', '100'])).toBe('--size must be a multiple of 32, got 100');
    expect(problem(['a', '--ratio', 'NaN'])).toBe('--ratio must be a number, got "NaN"');
    expect(problem(['a', '--kind', 'magic'])).toBe('--kind must be jb, cosine or euclidean, got "magic"');
  });

  it("rephrases node:util's errors as one line naming the option", () => {
    expect(problem(['a', '--nope'])).toMatch(/^unknown option --nope \(mobileid try --help lists the options\)$/);
    expect(problem(['a', '--name'])).toMatch(/^--name needs a value/);
    expect(problem(['a', '--json=yes'])).toMatch(/^--json takes no value/);
  });

  it('checks the number of positionals', () => {
    expect(problem([])).toMatch(/^expects <first> \[more\.\.\.\], got none/);
    expect(parseCommand(spec, ['a', 'b', 'c', 'd']).positionals).toHaveLength(4);
    const single = { ...spec, args: ['<image>'] } as const satisfies CommandSpec;
    expect(() => parseCommand(single, ['a', 'b'])).toThrow(/expects <image>, got "a" "b"/);
  });

  it('accepts --debug and --help on every command', () => {
    expect(() => parseCommand(spec, ['a', '--debug', '--help'])).not.toThrow();
  });
});

describe('formatHelp', () => {
  it('shows usage, every option with its value name and default, and the examples', () => {
    const help = formatHelp(spec);
    expect(help.split('\n')[0]).toBe('usage: mobileid try <first> [more...] [options]');
    expect(help).toMatch(/--size N +input side \(default: the model's 416\)/);
    expect(help).toMatch(/--ratio N +a fraction \(default: 0\.5\)/);
    expect(help).toMatch(/--kind jb\|cosine\|euclidean +a choice \(default: jb\)/);
    expect(help).toMatch(/--name TEXT +free text \(default: none\)/);
    expect(help).toMatch(/--json +a flag \(default: false\)/);
    expect(help).toMatch(/--debug +on an error, print its stack trace too/);
    expect(help).toMatch(/examples:\n  mobileid try x --size 64$/);
    expect(Math.max(...help.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
  });
});
