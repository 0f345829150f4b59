/**
 * What test/docs-examples.test.ts reads in the docs: fenced code blocks (with a `<!-- not run: why -->`
 * marker before and an expected output after), inline code spans, console tours (`$ command` lines
 * and their output), and the comparison of an output with the one a doc shows.
 */

export interface CodeBlock {
  /** The fence's language (`ts`, `console`, `sh`, `text`, ...). */
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Line of the closing fence. */
  endLine: number;
  /** Set by `<!-- not run: why -->` on the last non-blank line before the fence. */
  notRun: string | undefined;
  /** A ```text block right after this one (only blank lines between): what it prints. */
  output: string | undefined;
  /** The heading the block is under. */
  heading: string;
}

const FENCE = /^(`{3,}|~{3,})\s*([\w-]*)/;
const NOT_RUN = /^<!--\s*not run:\s*(.*?)\s*-->$/;

export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let lastText = '';
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim() !== '') lastText = lines[i]!.trim();
      if (/^#{1,6} /.test(lines[i]!)) heading = lines[i]!.replace(/^#+ /, '');
      continue;
    }
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i]!.startsWith(fence[0]!.repeat(fence.length)) && lines[i]!.trim().replace(/^[`~]+/, '') === ''); i++) body.push(lines[i]!);
    const notRun = NOT_RUN.exec(lastText)?.[1];
    blocks.push({ lang: open[2]!, code: body.join('\n'), line: start + 1, endLine: i + 1, notRun, output: undefined, heading });
    lastText = '';
  }
  for (let b = 0; b + 1 < blocks.length; b++) {
    const cur = blocks[b]!;
    const next = blocks[b + 1]!;
    const between = lines.slice(cur.endLine, next.line - 1);
    if (cur.lang !== 'text' && next.lang === 'text' && between.every((l) => l.trim() === '')) cur.output = next.code;
  }
  return blocks;
}

/** Inline code spans outside fenced blocks (a span may wrap: its line breaks count as spaces). */
export function inlineCode(markdown: string): string[] {
  const outside = markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
  return [...outside.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
}

export interface TourStep {
  /** The command as shown (continuation lines joined). */
  command: string;
  /** The output shown under it. */
  output: string[];
}

/** A console block: `$ ` starts a command (a trailing `\` continues it), other lines are its output. */
export function tourSteps(code: string): TourStep[] {
  const steps: TourStep[] = [];
  const lines = code.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
      steps.push({ command, output: [] });
    } else if (steps.length > 0) steps.at(-1)!.output.push(line);
    else if (line.trim() !== '') throw new Error(`output before any command: ${line}`);
  }
  for (const s of steps) while (s.output.length > 0 && s.output.at(-1)!.trim() === '') s.output.pop();
  return steps;
}

/** A value shortened in a doc: word characters, then `…` (`4fd87b2a-…`, `ZVAtdut1…`). */
export const PLACEHOLDER = /\w[\w-]*…/g;

export interface MatchOptions {
  /** Values seen so far by placeholder; new ones are added. */
  vars?: Map<string, string>;
  /** An age (`2m`, `15s`) matches any age: tables show how long ago things happened. */
  ages?: boolean;
}

const normalize = (line: string): string => line.replace(/[ \t]+/g, ' ').trimEnd();
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Compares output lines with the lines a doc shows: whitespace runs count as one space; `WORD…`
 * is a placeholder for one value of `[A-Za-z0-9_-]` (the same value wherever it recurs); a lone
 * `…` is any text. Returns a description of the first difference, or null.
 */
export function compareOutput(expected: string[], actual: string[], options: MatchOptions = {}): string | null {
  const vars = options.vars ?? new Map<string, string>();
  const exp = expected.map(normalize);
  const act = actual.map(normalize);
  while (act.length > 0 && act.at(-1) === '') act.pop();
  for (let i = 0; i < Math.max(exp.length, act.length); i++) {
    const e = exp[i];
    const a = act[i];
    if (e === undefined) return `line ${i + 1}: printed ${JSON.stringify(a)}, the doc shows nothing more`;
    if (a === undefined) return `line ${i + 1}: the doc shows ${JSON.stringify(e)}, nothing was printed`;
    const names: string[] = [];
    let pattern = '';
    let last = 0;
    const tokens = /(\w[\w-]*…)|(…)|(\b\d+[smhd]\b)/g;
    for (const m of e.matchAll(tokens)) {
      pattern += escape(e.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] !== undefined) {
        const known = vars.get(m[1]);
        const k = names.indexOf(m[1]);
        if (known !== undefined) pattern += escape(known);
        else if (k >= 0) pattern += `\\${k + 1}`;
        else { names.push(m[1]); pattern += '([A-Za-z0-9_-]+)'; }
      } else if (m[2] !== undefined) pattern += '.*?';
      else pattern += options.ages ? '\\d+[smhd]' : escape(m[3]!);
    }
    pattern += escape(e.slice(last));
    const found = new RegExp(`^${pattern}$`).exec(a);
    if (!found) return `line ${i + 1}: the doc shows\n  ${e}\nbut it printed\n  ${a}`;
    names.forEach((name, k) => vars.set(name, found[k + 1]!));
  }
  return null;
}

/** Puts the values seen for each placeholder back into a command; an unknown one is an error. */
export function fillPlaceholders(command: string, vars: Map<string, string>): string {
  return command.replace(PLACEHOLDER, (p) => {
    const v = vars.get(p);
    if (v === undefined) throw new Error(`${p} in "${command}" was not shown in an earlier output`);
    return v;
  });
}
