/**
 * Every command the READMEs tell a reader to type resolves: the npm scripts exist, every `npx X` is a
 * bin this repo links into node_modules/.bin and answers `--help`, `node` runs a file that exists, other
 * programs are on PATH (or on the allow-list below), and the repo files a command names exist. Commands
 * come from the fenced sh/bash/shell/console blocks of README.md and every other README.md in the repo.
 */

import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from 'node:fs';
import { delimiter, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Folders that hold no README of ours: installs, build output, the lab's state. */
const NOT_OURS = new Set(['node_modules', '.git', 'dist', '.turbo', '.lab', 'coverage', 'playground-dist']);

/**
 * Programs a README runs that come from elsewhere, per README, with where the README says they come
 * from. Everything else must be on PATH of the machine running this test.
 */
const FROM_ELSEWHERE: Record<string, Record<string, string>> = {
  'deploy/README.md': {
    // "Install on a site host": these commands run on a production site host (a systemd Linux machine
    // administered with sudo), not on the development or CI machine that runs this test.
    sudo: 'the site host administers itself with sudo',
    useradd: 'creates the service user on the site host (/usr/sbin, not on a normal user PATH)',
    systemctl: "the site host's systemd runs protector-site (deploy/systemd/protector-site.service)",
    journalctl: "the site host's systemd journal holds protector-site's logs",
  },
};

/** Shell builtins a command line may start with. */
const BUILTINS = new Set(['cd', 'echo', 'printf', 'source', '.', 'set', 'read', 'true', 'false', 'exit']);
const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

interface ReadmeCommand {
  readonly readme: string;
  /** 1-based line of the README the command starts on. */
  readonly line: number;
  /** The command's words, quotes removed, leading `VAR=value` assignments stripped. */
  readonly words: string[];
  /** Set when the line cannot be read as a command (e.g. an unterminated quote). */
  readonly problem?: string;
}

/** The commands of a README's fenced shell blocks. */
function extractCommands(text: string, readme: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  let fence: { marker: string; lang: string } | null = null;
  let pending: { line: number; text: string } | null = null;
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const body = raw.trim();
    if (!fence) {
      const open = /^(`{3,}|~{3,})\s*([^\s`{]*)/.exec(body);
      if (open) fence = { marker: open[1]!, lang: open[2]!.toLowerCase() };
      continue;
    }
    if (body.startsWith(fence.marker) && /^(`+|~+)$/.test(body)) {
      fence = null;
      pending = null;
      continue;
    }
    if (!SHELL_LANGS.has(fence.lang)) continue;
    let part = body;
    if (!pending && fence.lang === 'console') {
      // A console block shows prompts (`$ cmd`) and output; only prompted lines are commands.
      if (!part.startsWith('$ ')) continue;
      part = part.slice(2);
    }
    if (pending) pending.text += ` ${part}`;
    else pending = { line: index + 1, text: part };
    if (pending.text.endsWith('\\')) {
      pending.text = pending.text.slice(0, -1);
      continue;
    }
    const { line, text: commandLine } = pending;
    pending = null;
    try {
      for (const words of splitShell(commandLine)) {
        if (words[0] === 'export' || words[0] === 'unset') continue;
        while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) words.shift();
        if (words.length > 0) commands.push({ readme, line, words });
      }
    } catch (err) {
      commands.push({ readme, line, words: [commandLine], problem: (err as Error).message });
    }
  }
  return commands;
}

/** Splits a shell line into simple commands (on `&&`, `||`, `;`, `|`, `&`), dropping a `#` comment. */
function splitShell(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  const endWord = () => {
    if (word !== null) commands.at(-1)!.push(word);
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      let quoted = '';
      for (; j < line.length && line[j] !== c; j++) {
        if (c === '"' && line[j] === '\\' && '"\\$`'.includes(line[j + 1] ?? '')) j++;
        quoted += line[j];
      }
      if (j >= line.length) throw new Error(`unterminated ${c} quote`);
      word = (word ?? '') + quoted;
      i = j;
    } else if (c === '\\') {
      word = (word ?? '') + (line[++i] ?? '');
    } else if (/\s/.test(c)) {
      endWord();
    } else if (c === '#' && word === null) {
      break;
    } else if ('&|;'.includes(c) && !(c === '&' && /[<>]/.test(`${line[i - 1] ?? ''}${line[i + 1] ?? ''}`))) {
      endWord();
      if (c !== ';' && line[i + 1] === c) i++;
      commands.push([]);
    } else {
      word = (word ?? '') + c;
    }
  }
  endWord();
  return commands.filter((words) => words.length > 0);
}

// ---- resolution ----

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const rootPackage = readJson(join(root, 'package.json'));
const workspaces = (rootPackage.workspaces as string[]).map((dir) => ({
  dir,
  pkg: readJson(join(root, dir, 'package.json')),
}));
const topLevelDirs = new Set(
  readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !NOT_OURS.has(e.name))
    .map((e) => e.name),
);

/** PATH as a reader's shell has it: without the node_modules/.bin folders npm and npx add. */
const shellPath = (process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.includes('node_modules'));

function onPath(program: string): boolean {
  return shellPath.some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function linkedBin(name: string): 'linked' | 'dangling' | 'absent' {
  const link = join(root, 'node_modules', '.bin', name);
  try {
    lstatSync(link);
  } catch {
    return 'absent';
  }
  return existsSync(link) ? 'linked' : 'dangling';
}

const helpRuns = new Map<string, string | null>();

/** Runs `npx <bin> --help` once per bin from the repo root; null when it exits 0, else what went wrong. */
function npxHelp(bin: string): string | null {
  let result = helpRuns.get(bin);
  if (result === undefined) {
    // The environment of a reader's shell: no npm_* variables of the npm script running this test.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    env.PATH = shellPath.join(delimiter);
    const run = spawnSync('npx', [bin, '--help'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    if (run.error) result = `could not run: ${run.error.message}`;
    else if (run.status !== 0) {
      const said = `${run.stderr}\n${run.stdout}`.trim().split('\n')[0] ?? '';
      result = `exits with ${run.status ?? run.signal}: ${said}`;
    } else result = null;
    helpRuns.set(bin, result);
  }
  return result;
}

function scriptTargets(workspaceArgs: string[], all: boolean) {
  if (all) return { targets: workspaces, problems: [] };
  if (workspaceArgs.length === 0) return { targets: [{ dir: '.', pkg: rootPackage }], problems: [] };
  const problems: string[] = [];
  const targets = workspaceArgs.flatMap((w) => {
    const dir = w.replace(/^\.\//, '').replace(/\/$/, '');
    const found = workspaces.find((ws) => ws.pkg.name === w || ws.dir === dir);
    if (!found) problems.push(`no workspace '${w}' in the root package.json`);
    return found ? [found] : [];
  });
  return { targets, problems };
}

function checkNpm(args: string[]): string[] {
  const workspaceArgs: string[] = [];
  const positional: string[] = [];
  let all = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    const eq = /^(?:-w|--workspace)=(.*)$/.exec(a);
    if (eq) workspaceArgs.push(eq[1]!);
    else if (a === '-w' || a === '--workspace') workspaceArgs.push(args[++i] ?? '');
    else if (a === '-ws' || a === '--workspaces') all = true;
    else if (!a.startsWith('-')) positional.push(a);
  }
  const [sub, name] = positional;
  if (sub === undefined || ['install', 'i', 'ci'].includes(sub)) return [];
  const aliases: Record<string, string> = { start: 'start', test: 'test', t: 'test', stop: 'stop' };
  let script: string | undefined;
  if (sub === 'run' || sub === 'run-script') {
    if (name === undefined) return []; // lists the scripts
    script = name;
  } else script = aliases[sub];
  if (script === undefined) return [`'npm ${sub}' is not an npm command this test knows how to check`];
  const { targets, problems } = scriptTargets(workspaceArgs, all);
  for (const { dir, pkg } of targets) {
    if (!Object.hasOwn(pkg.scripts ?? {}, script)) {
      const where = dir === '.' ? 'the root package.json' : `${dir}/package.json (${pkg.name})`;
      problems.push(`no script '${script}' in ${where}`);
    }
  }
  return problems;
}

function checkNpx(args: string[]): string[] {
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) {
    if (['-p', '--package', '-c', '--call', '-w', '--workspace'].includes(args[i]!)) i++;
    i++;
  }
  const bin = args[i];
  if (bin === undefined) return ['npx without a program'];
  const link = linkedBin(bin);
  if (link === 'absent') {
    return [`'${bin}' is not a bin linked in node_modules/.bin (npx would fetch a package of that name)`];
  }
  if (link === 'dangling') {
    const target = readlinkSync(join(root, 'node_modules', '.bin', bin));
    return [`node_modules/.bin/${bin} links to a missing file (${target}); run npm install`];
  }
  const help = npxHelp(bin);
  return help === null ? [] : [`\`npx ${bin} --help\` (from the repo root) ${help}`];
}

function checkProgram(words: string[], readme: string): string[] {
  const [program, ...args] = words as [string, ...string[]];
  if (program === 'npm') return checkNpm(args);
  if (program === 'npx') return checkNpx(args);
  if (program === 'node') {
    const file = args.find((a) => !a.startsWith('-'));
    if (file === undefined || existsSync(join(root, file))) return [];
    return [`node: the file ${file} does not exist`];
  }
  const problems: string[] = [];
  if (program.includes('/')) {
    if (!existsSync(join(root, program))) problems.push(`the program ${program} does not exist`);
  } else if (!BUILTINS.has(program) && !onPath(program) && !FROM_ELSEWHERE[readme]?.[program]) {
    const hint =
      linkedBin(program) === 'absent'
        ? `nor on the allow-list of programs ${readme} says come from elsewhere`
        : `it is a bin of this repo: write \`npx ${program}\``;
    problems.push(`'${program}' is not on PATH, ${hint}`);
  }
  if (program === 'sudo') {
    let i = 0;
    while (i < args.length && args[i]!.startsWith('-')) i += /^-[ugUCDhprtT]$/.test(args[i]!) ? 2 : 1;
    if (i < args.length) problems.push(...checkProgram(args.slice(i), readme));
  }
  return problems;
}

/** Words (or the value of `--opt=value`) that name a file in one of the repo's folders must exist. */
function repoPathProblems(words: string[]): string[] {
  return words.flatMap((word) => {
    const path = (word.includes('=') ? word.slice(word.indexOf('=') + 1) : word).replace(/^\.\//, '');
    const first = path.split('/')[0]!;
    if (!path.includes('/') || !topLevelDirs.has(first) || existsSync(join(root, path))) return [];
    return [`${path} does not exist in the repo`];
  });
}

/** One line per command that does not resolve: `README:line: \`command\`: what`. */
function checkReadme(text: string, readme: string): string[] {
  return extractCommands(text, readme).flatMap((command) => {
    const problems = command.problem
      ? [command.problem]
      : [...checkProgram(command.words, readme), ...repoPathProblems(command.words)];
    return problems.map((p) => `${readme}:${command.line}: \`${command.words.join(' ')}\`: ${p}`);
  });
}

function findReadmes(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return NOT_OURS.has(e.name) ? [] : findReadmes(join(dir, e.name));
    return e.name === 'README.md' ? [relative(root, join(dir, e.name)).split(sep).join('/')] : [];
  });
}

// ---- tests ----

const readmes = findReadmes(root).sort();

describe('commands in the READMEs', () => {
  it('finds the READMEs', () => {
    expect(readmes).toEqual(expect.arrayContaining(['README.md', 'deploy/README.md']));
    expect(
      extractCommands(readFileSync(join(root, 'README.md'), 'utf8'), 'README.md').length,
    ).toBeGreaterThan(5);
  });

  it.each(readmes)('%s: every command resolves', (readme) => {
    const text = readFileSync(join(root, readme), 'utf8');
    expect(checkReadme(text, readme), `commands in ${readme} that do not resolve`).toEqual([]);
  });
});

describe('the README command reader', () => {
  it('reads fenced shell blocks: comments, continuations, assignments, export, operators, prompts', () => {
    const text = [
      'Intro `npm run nothing` (inline code is not a command)', // 1
      '```sh', // 2
      '# a comment', // 3
      '', // 4
      'npm start   # builds, then runs', // 5
      'export A=1', // 6
      'FOO=bar BAZ="a b" npx protector pg list', // 7
      'npm run build && node x.js; curl -s "http://h/#x" | grep -i tok 2>&1 &', // 8
      'protector site create b \\', // 9
      "  --auth-url 'https://k/v3'", // 10
      '```', // 11
      '```ini', // 12
      'npm run in-ini', // 13
      '```', // 14
      '```console', // 15
      '$ npx fa-sim --help', // 16
      'usage: fa-sim ...', // 17
      '```', // 18
    ].join('\n');
    const got = extractCommands(text, 'X.md').map((c) => [c.line, ...c.words]);
    expect(got).toEqual([
      [5, 'npm', 'start'],
      [7, 'npx', 'protector', 'pg', 'list'],
      [8, 'npm', 'run', 'build'],
      [8, 'node', 'x.js'],
      [8, 'curl', '-s', 'http://h/#x'],
      [8, 'grep', '-i', 'tok', '2>&1'],
      [9, 'protector', 'site', 'create', 'b', '--auth-url', 'https://k/v3'],
      [16, 'npx', 'fa-sim', '--help'],
    ]);
  });

  it('reports an unterminated quote', () => {
    expect(extractCommands('```bash\necho "oops\n```\n', 'Y.md')).toEqual([
      { readme: 'Y.md', line: 2, words: ['echo "oops'], problem: 'unterminated " quote' },
    ]);
  });

  it('fails on bogus commands added to a copy of the README, naming the README, the line and what', () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    const at = text.split('\n').length + 1; // the first line after the appended fence
    const bogus = [
      '```sh',
      'npx protektor --help',
      'npm run no-such-script',
      'npm run docs -w @protector/nope',
      'npm run no-docs -w @protector/schema',
      'node bench/no-such-bench.mjs',
      'FOO=1 frobnicate-xyz --now | grep x',
      'sudo systemctl restart protector-site',
      'protector pg list',
      'cat deploy/no-such.conf',
      '```',
    ].join('\n');
    // Only the appended lines: the README's own commands are the test above's business.
    const added = checkReadme(`${text}\n${bogus}\n`, 'README.md').filter(
      (problem) => Number(/^README\.md:(\d+):/.exec(problem)?.[1]) >= at,
    );
    expect(added).toEqual([
      `README.md:${at + 1}: \`npx protektor --help\`: 'protektor' is not a bin linked in node_modules/.bin (npx would fetch a package of that name)`,
      `README.md:${at + 2}: \`npm run no-such-script\`: no script 'no-such-script' in the root package.json`,
      `README.md:${at + 3}: \`npm run docs -w @protector/nope\`: no workspace '@protector/nope' in the root package.json`,
      `README.md:${at + 4}: \`npm run no-docs -w @protector/schema\`: no script 'no-docs' in schema/package.json (@protector/schema)`,
      `README.md:${at + 5}: \`node bench/no-such-bench.mjs\`: node: the file bench/no-such-bench.mjs does not exist`,
      `README.md:${at + 5}: \`node bench/no-such-bench.mjs\`: bench/no-such-bench.mjs does not exist in the repo`,
      `README.md:${at + 6}: \`frobnicate-xyz --now\`: 'frobnicate-xyz' is not on PATH, nor on the allow-list of programs README.md says come from elsewhere`,
      ...(onPath('sudo')
        ? []
        : [
            `README.md:${at + 7}: \`sudo systemctl restart protector-site\`: 'sudo' is not on PATH, nor on the allow-list of programs README.md says come from elsewhere`,
          ]),
      ...(onPath('systemctl')
        ? []
        : [
            `README.md:${at + 7}: \`sudo systemctl restart protector-site\`: 'systemctl' is not on PATH, nor on the allow-list of programs README.md says come from elsewhere`,
          ]),
      `README.md:${at + 8}: \`protector pg list\`: 'protector' is not on PATH, it is a bin of this repo: write \`npx protector\``,
      `README.md:${at + 9}: \`cat deploy/no-such.conf\`: deploy/no-such.conf does not exist in the repo`,
    ]);
  });

  it('lets a README run a program from elsewhere only when it is on that README’s allow-list', () => {
    const text = '```sh\nsudo useradd --system protector\nfrobnicate-xyz\n```\n';
    const elsewhere = FROM_ELSEWHERE['deploy/README.md']!;
    elsewhere['frobnicate-xyz'] = 'a test entry';
    try {
      expect(checkReadme(text, 'deploy/README.md')).toEqual([]);
      expect(checkReadme(text, 'README.md')).toContain(
        "README.md:3: `frobnicate-xyz`: 'frobnicate-xyz' is not on PATH, nor on the allow-list of programs README.md says come from elsewhere",
      );
    } finally {
      delete elsewhere['frobnicate-xyz'];
    }
  });

  it('runs `npx <bin> --help` once per bin and reports one that fails', () => {
    expect(checkNpx(['tsc'])).toEqual([]);
    expect(helpRuns.get('tsc')).toBeNull();
    // A linked bin whose --help failed (as `protector` does before a build) is reported with what it said.
    helpRuns.set('turbo', 'exits with 1: turbo: not built yet');
    try {
      expect(checkNpx(['--yes', 'turbo', 'run', 'x'])).toEqual([
        '`npx turbo --help` (from the repo root) exits with 1: turbo: not built yet',
      ]);
    } finally {
      helpRuns.delete('turbo');
    }
  });
});
