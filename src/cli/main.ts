/** The `muster` command. */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { hubCommand } from './hub-command.js';
import { registryCommands } from './registry-commands.js';
import { iccpCommands } from './iccp-commands.js';
import { controlCommands } from './control-commands.js';
import { busCommands } from './bus-commands.js';
import { adminCommands } from './admin-commands.js';
import { snapshotCommands } from './snapshot-commands.js';
import { handleClosedOutput, warn } from './output.js';

const program = new Command('muster').version(VERSION).description('registry and relay hub for fleets of devices, services and components');
program.exitOverride();
handleClosedOutput();
hubCommand(program);
registryCommands(program);
iccpCommands(program);
controlCommands(program);
busCommands(program);
adminCommands(program);
snapshotCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Errors with a muster code (hub answers, HUB_UNREACHABLE, ...) show it: `muster: CODE: message`.
  const code = (err as { code?: unknown }).code;
  const prefix = typeof code === 'string' && /^[A-Z][A-Z_]+$/.test(code) && !(err as Error).message.startsWith(code) ? `${code}: ` : '';
  // The message may quote a member (MEMBER_ERROR, lifecycle errors): warn escapes it.
  warn(`muster: ${prefix}${(err as Error).message}`);
  process.exit(1);
}
