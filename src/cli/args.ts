/**
 * The CLI's argument parser: node:util parseArgs underneath, plus what it lacks. Each command
 * declares its options once (type, default, allowed values, help text, examples); from that one
 * table come the parsing, the checks with one-line errors naming the option, and `--help`, so
 * options, defaults and help cannot drift apart.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli-error.js';

export interface OptionSpec {
  type: 'string' | 'number' | 'integer' | 'boolean';
  description: string;
  default?: string | number | boolean;
  /** Help text for a default decided at run time (e.g. "the model's 416"). */
  defaultText?: string;
  /** The only values a string option accepts. */
  choices?: readonly string[];
  /** Inclusive bounds of a number option. */
  min?: number;
  max?: number;
  /** A number option must be a multiple of this. */
  multipleOf?: number;
  /** Name of the value in the help, e.g. FILE or N. */
  value?: string;
}

export interface CommandSpec {
  name: string;
  /** One line for `mobileid --help`. */
  summary: string;
  /** Positionals as shown in the usage: `<x>` required, `[x]` optional, a trailing `...` repeats. */
  args: readonly string[];
  /** More lines for `mobileid <command> --help`. */
  description?: string;
  options: Readonly<Record<string, OptionSpec>>;
  examples: readonly string[];
}

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean' ? boolean : O['type'] extends 'string' ? string : number;

/** Parsed option values: typed, and never undefined when the option has a default. */
export type Values<S extends CommandSpec> = {
  -readonly [K in keyof S['options']]: S['options'][K] extends { default: string | number | boolean }
    ? ValueOf<S['options'][K]>
    : ValueOf<S['options'][K]> | undefined;
};

export interface Parsed<S extends CommandSpec> {
  values: Values<S>;
  positionals: string[];
}

/** Accepted by every command; cli.ts acts on them before the command runs. */
export const COMMON_OPTIONS = {
  debug: { type: 'boolean', default: false, description: 'on an error, print its stack trace too' },
  help: { type: 'boolean', default: false, description: 'print this help' },
} as const satisfies Record<string, OptionSpec>;

/** "a, b or c" */
export const orList = (items: readonly string[]): string =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;

/** Checks and converts one option's text; every complaint names the option. */
function convert(name: string, spec: OptionSpec, text: string): string | number {
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(text)) throw new CliError(`--${name} must be ${orList(spec.choices)}, got "${text}"`);
    return text;
  }
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliError(`--${name} must be a number, got "${text}"`);
  if (spec.type === 'integer' && !Number.isInteger(value)) throw new CliError(`--${name} must be a whole number, got "${text}"`);
  if (spec.min !== undefined && value < spec.min) throw new CliError(`--${name} must be >= ${spec.min}, got ${text}`);
  if (spec.max !== undefined && value > spec.max) throw new CliError(`--${name} must be <= ${spec.max}, got ${text}`);
  if (spec.multipleOf !== undefined && value % spec.multipleOf !== 0) throw new CliError(`--${name} must be a multiple of ${spec.multipleOf}, got ${text}`);
  return value;
}

/** parseArgs's own errors, rephrased as one line naming the option, then `hint`. */
function parseError(error: { code?: string; message: string }, hint: string): CliError {
  const option = /'(-[^' ]+)/.exec(error.message)?.[1] ?? error.message;
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new CliError(`unknown option ${option} ${hint}`);
  if (/argument missing/.test(error.message)) return new CliError(`${option} needs a value ${hint}`);
  if (/does not take an argument/.test(error.message)) return new CliError(`${option} takes no value ${hint}`);
  return new CliError(`${error.message.split('\n')[0]} ${hint}`);
}

const isParseArgsError = (error: unknown): error is Error => (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;

/**
 * node:util's parseArgs for the repository's scripts and benchmarks (`file`, e.g.
 * scripts/distill.ts, whose opening comment lists the options): an option it does not accept
 * prints one line and exits with status 2, as the CLI does, instead of a stack trace.
 */
export function parseToolArgs<T extends ParseArgsConfig>(file: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    const name = file.replace(/^.*\//, '').replace(/\.ts$/, '');
    console.error(`${name}: ${parseError(error, `(the options are listed at the top of ${file})`).message}`);
    process.exit(2);
  }
}

/** Parses `argv` for the command; CliError (one line) on anything it does not accept. */
export function parseCommand<S extends CommandSpec>(spec: S, argv: string[]): Parsed<S> {
  const all: Record<string, OptionSpec> = { ...spec.options, ...COMMON_OPTIONS };
  const config: ParseArgsConfig['options'] = {};
  for (const [name, option] of Object.entries(all)) config[name] = { type: option.type === 'boolean' ? 'boolean' : 'string' };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    if (isParseArgsError(error)) throw parseError(error, `(mobileid ${spec.name} --help lists the options)`);
    throw error;
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    const given = parsed.values[name];
    values[name] = typeof given === 'string' ? convert(name, option, given) : (given ?? option.default);
  }
  const required = spec.args.filter((a) => a.startsWith('<')).length;
  const repeats = spec.args.some((a) => a.includes('...'));
  const { positionals } = parsed;
  if (positionals.length < required || (!repeats && positionals.length > spec.args.length)) {
    const wanted = spec.args.length ? spec.args.join(' ') : 'no arguments';
    throw new CliError(`expects ${wanted}, got ${positionals.length ? positionals.map((p) => `"${p}"`).join(' ') : 'none'} (mobileid ${spec.name} --help)`);
  }
  return { values: values as Values<S>, positionals };
}

const HELP_WIDTH = 100;

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** `mobileid <command> --help`: usage, description, every option with its default, examples. */
export function formatHelp(spec: CommandSpec): string {
  const all: Record<string, OptionSpec> = { ...spec.options, ...COMMON_OPTIONS };
  const rows = Object.entries(all).map(([name, option]) => {
    const flag = `--${name}${option.type === 'boolean' ? '' : ` ${option.value ?? (option.choices ? option.choices.join('|') : option.type === 'string' ? 'TEXT' : 'N')}`}`;
    const fallback = option.defaultText ?? (option.default === undefined ? 'none' : String(option.default));
    return [flag, `${option.description} (default: ${fallback})`];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const indent = ' '.repeat(2 + width);
  return [
    `usage: mobileid ${spec.name}${spec.args.length ? ` ${spec.args.join(' ')}` : ''} [options]`,
    '',
    spec.summary,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'options:',
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${wrap(text, HELP_WIDTH - indent.length).join(`\n${indent}`)}`),
    '',
    'examples:',
    ...spec.examples.map((e) => `  ${e}`),
  ].join('\n');
}

export interface Command {
  spec: CommandSpec;
  /** Parses argv against the spec, then runs. */
  run(argv: string[]): Promise<void>;
}

export function defineCommand<S extends CommandSpec>(spec: S, run: (parsed: Parsed<S>) => Promise<void>): Command {
  return { spec, run: (argv) => run(parseCommand(spec, argv)) };
}
