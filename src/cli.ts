/**
 * mobileid <command> [options]
 *
 *   demo                 the main job on built-in photos (default when no command is given)
 *   eval-lfw             LFW View 2 accuracy of a model + verifier
 *   gallery <folder>     t-SNE face gallery picture of a folder of photos
 *   detect <image>       faces, boxes and landmarks in a photo
 *   verify <a> <b>       same person or not
 */
import { CliError } from './commands/cli-error.js';
import { MobileIdError } from './errors.js';

const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<void>>> = {
  'eval-lfw': async () => (await import('./commands/eval-lfw.js')).evalLfwCommand,
  gallery: async () => (await import('./commands/gallery.js')).galleryCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  detect: async () => (await import('./commands/detect.js')).detectCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
};

const USAGE = `usage: mobileid <command> [options]
commands: ${Object.keys(COMMANDS).join(', ')}`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'demo', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  try {
    await (await load())(rest);
    return 0;
  } catch (error) {
    if (error instanceof CliError || error instanceof MobileIdError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`mobileid ${command}: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
