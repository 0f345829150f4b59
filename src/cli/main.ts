/** The `muster` command. */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../hub.js';
import { hubCommand } from './hub-command.js';

const program = new Command('muster').version(VERSION).description('registry and relay hub for fleets of devices, services and components');
program.exitOverride();
hubCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`muster: ${(err as Error).message}\n`);
  process.exit(1);
}
