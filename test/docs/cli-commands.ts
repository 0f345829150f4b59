/**
 * The `muster` command lines a doc shows (`muster ls --type camera`, `npx muster hub --co2 8000`)
 * checked against the real command tree: the command exists and takes every `--flag` shown.
 */
import { Command } from 'commander';
import { adminCommands } from '../../src/cli/admin-commands.js';
import { busCommands } from '../../src/cli/bus-commands.js';
import { controlCommands } from '../../src/cli/control-commands.js';
import { hubCommand } from '../../src/cli/hub-command.js';
import { iccpCommands } from '../../src/cli/iccp-commands.js';
import { registryCommands } from '../../src/cli/registry-commands.js';
import { snapshotCommands } from '../../src/cli/snapshot-commands.js';

/** The command tree as src/cli/main.ts builds it (not parsed, only read). */
export function musterProgram(): Command {
  const program = new Command('muster');
  hubCommand(program);
  registryCommands(program);
  iccpCommands(program);
  controlCommands(program);
  busCommands(program);
  adminCommands(program);
  snapshotCommands(program);
  return program;
}

/** Splits a shell line into words: quotes group, nothing is expanded. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/** The arguments of each `muster` (or `npx muster`) invocation in a line of shell, up to `;`, `|`, `&` or a comment. */
export function musterInvocations(line: string): string[][] {
  const found: string[][] = [];
  const code = line.replace(/(^|\s)#.*$/, '');
  for (const m of code.matchAll(/(?:^|[\s(;&|$])(?:npx\s+)?muster((?:\s+[^\s;&|#]+)*)/g)) {
    const args = shellWords(m[1]!);
    if (args.length > 0) found.push(args);
  }
  return found;
}

/** What is wrong with `muster ARGS` for this program, or null. */
export function checkInvocation(program: Command, args: string[]): string | null {
  let cmd = program;
  let i = 0;
  while (cmd.commands.length > 0 && i < args.length && !args[i]!.startsWith('-')) {
    const name = args[i]!;
    const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (!sub) {
      if (cmd === program) return `no command "muster ${name}" (commands: ${program.commands.map((c) => c.name()).join(', ')})`;
      break; // an argument of a command that also has subcommands
    }
    cmd = sub;
    i++;
  }
  if (cmd === program) return null;
  const longs = new Set(cmd.options.flatMap((o) => (o.long ? [o.long] : [])));
  longs.add('--help');
  for (const a of args.slice(i)) {
    if (a === '--') break; // what follows belongs to another program (muster launch NAME -- CMD ...)
    if (!a.startsWith('--')) continue;
    const flag = a.split('=')[0]!;
    if (!longs.has(flag)) return `"muster ${args.slice(0, i).join(' ')}" has no option ${flag} (it has ${[...longs].join(', ')})`;
  }
  return null;
}
