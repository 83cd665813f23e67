/**
 * mobileid [command] [options]; `mobileid --help` lists the commands, `mobileid <command> --help`
 * their options. No command runs the demo.
 *
 * Exit codes: 0 done; 2 the command line is wrong (unknown command or option, bad value, an
 * input file that cannot be read); 1 the work failed (e.g. an image that does not decode). Every
 * error is one line on stderr; --debug adds its stack trace.
 */
import { readFileSync } from 'node:fs';
import { type Command, formatHelp, orList } from './cli/args.js';
import { CliError } from './cli/cli-error.js';
import { FileReadError, MobileIdError } from './errors.js';

const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./cli/demo.js')).demoCommand,
  detect: async () => (await import('./cli/detect.js')).detectCommand,
  verify: async () => (await import('./cli/verify.js')).verifyCommand,
  embed: async () => (await import('./cli/embed.js')).embedCommand,
  identify: async () => (await import('./cli/identify.js')).identifyCommand,
  gallery: async () => (await import('./cli/gallery.js')).galleryCommand,
  'eval-pairs': async () => (await import('./cli/eval-pairs.js')).evalPairsCommand,
  calibrate: async () => (await import('./cli/eval-pairs.js')).calibrateCommand,
  'eval-lfw': async () => (await import('./tools/eval-lfw.js')).evalLfwCommand,
};

/** package.json sits one level above both src/cli.ts and the bundled dist/cli.js. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return [
    'usage: mobileid [command] [options]',
    '',
    'Face detection, verification and t-SNE galleries in WebAssembly. Without a command: demo.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'options:',
    '  --help      this list; mobileid <command> --help shows the options of a command',
    '  --version   the version of mobileid',
    '  --debug     on an error, print its stack trace too',
    '',
    'exit codes: 0 done, 1 the work failed, 2 the command line is wrong (each error is one line on stderr)',
  ].join('\n');
}

/** One line for the user; the class name tells API users which typed error this is. */
function describe(error: unknown): string {
  if (error instanceof CliError || error instanceof FileReadError) return error.message;
  if (error instanceof MobileIdError) return `${error.name}: ${error.message}`;
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `internal error, please report it: ${what.split('\n')[0]} (--debug shows the stack trace)`;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const [first = 'demo'] = argv;
  if (first === '--version') {
    console.log(version());
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    console.log(await usage());
    return 0;
  }
  // options without a command belong to the default command
  const [name, rest] = first.startsWith('-') ? ['demo', argv] : [first, argv.slice(1)];
  const load = COMMANDS[name];
  if (!load) {
    console.error(`mobileid: unknown command "${name}"; the commands are ${orList(Object.keys(COMMANDS))} (mobileid --help)`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(formatHelp(command.spec));
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (error) {
    console.error(`mobileid ${name}: ${describe(error).split('\n')[0]}`);
    if (debug && error instanceof Error) console.error(error.stack);
    return error instanceof CliError || error instanceof FileReadError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
