/** The `protector` CLI: global options, command dispatch, help, and the mapping of failures to exit codes. */
import { parseArgs } from 'node:util';
import { createProtectorClient, type ProtectorClient } from '../sdk/client.js';
import { ProtectorClientError, ProtectorConnectionError } from '../sdk/errors.js';
import { DEFAULT_GATEWAY_URL, SITE_KEY_PATTERN } from '../sdk/options.js';
import { redactSecrets } from '../sdk/redact.js';
import { COMMANDS } from './commands/index.js';
import { formatResult, OUTPUT_FORMATS, type OutputFormat } from './format.js';
import { CommandFailure, type CommandSpec, type OptionSpec, stringOption, UsageError } from './spec.js';

/** Where the CLI reads and writes; injectable for tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** First words that name another word (`pg` for `protection-group`). */
const GROUP_ALIASES: Readonly<Record<string, string>> = { pg: 'protection-group' };

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: 'string',
    value: '<url>',
    description: `Gateway GraphQL endpoint (env PROTECTOR_URL; default ${DEFAULT_GATEWAY_URL})`,
  },
  'os-token': {
    type: 'string',
    value: '<token>',
    secret: true,
    description:
      'Keystone token sent to every site that has no --site-token (env PROTECTOR_TOKEN or OS_TOKEN)',
  },
  'site-token': {
    type: 'string',
    multiple: true,
    value: '<key>=<token>',
    secret: true,
    description:
      'Keystone token of one site, by site key; repeatable (env PROTECTOR_SITE_TOKENS=boston=...,seattle=...)',
  },
  format: {
    type: 'string',
    short: 'f',
    value: 'table|json|value',
    description: 'Output format (default table)',
  },
  timeout: {
    type: 'string',
    value: '<seconds>',
    description: 'Time allowed for each request (env PROTECTOR_TIMEOUT; default 30)',
  },
  debug: { type: 'boolean', description: 'Print each request (secrets masked) on stderr' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

/** Global options that take a value (so that their value is not taken for a command word). */
const VALUE_FLAGS = new Set(['--url', '--os-token', '--site-token', '-f', '--format', '--timeout']);

const keyOf = (path: readonly string[]) => path.join(' ');

const COMMAND_INDEX: ReadonlyMap<string, CommandSpec> = new Map(
  COMMANDS.flatMap((command) =>
    [command.path, ...(command.aliases ?? [])].map((path) => [keyOf(path), command]),
  ),
);

const GROUPS: readonly string[] = [...new Set(COMMANDS.map((command) => command.path[0] ?? ''))];

/** Splits argv into command words (with their indexes) and the rest. */
function commandWords(argv: readonly string[]): { word: string; index: number }[] {
  const words: { word: string; index: number }[] = [];
  for (let i = 0; i < argv.length && words.length < 3; i += 1) {
    const token = argv[i] ?? '';
    if (token === '--') break;
    if (token.startsWith('-')) {
      if (VALUE_FLAGS.has(token)) i += 1;
      continue;
    }
    words.push({ word: words.length === 0 ? (GROUP_ALIASES[token] ?? token) : token, index: i });
  }
  return words;
}

/** The longest registered command at the start of the words. */
function matchCommand(
  words: readonly { word: string }[],
): { command: CommandSpec; length: number } | undefined {
  for (let length = words.length; length > 0; length -= 1) {
    const command = COMMAND_INDEX.get(keyOf(words.slice(0, length).map((w) => w.word)));
    if (command) return { command, length };
  }
  return undefined;
}

const optionUsage = (name: string, spec: OptionSpec) =>
  `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? '<value>'}` : ''}`;

const optionLines = (options: Readonly<Record<string, OptionSpec>>): string[] => {
  const entries = Object.entries(options).map(
    ([name, spec]) => [optionUsage(name, spec), spec.description] as const,
  );
  const width = Math.max(...entries.map(([usage]) => usage.length));
  return entries.map(([usage, description]) => `  ${usage.padEnd(width)}  ${description}`);
};

const usageLine = (command: CommandSpec) =>
  [
    'protector',
    ...command.path,
    ...(command.positionals ?? []).map(
      (p) => `${p.optional ? `[<${p.name}>]` : `<${p.name}>`}${p.repeated ? '...' : ''}`,
    ),
    ...(Object.keys(command.options ?? {}).length > 0 ? ['[options]'] : []),
  ].join(' ');

function commandHelp(command: CommandSpec): string {
  const lines = [`Usage: ${usageLine(command)}`, '', command.summary];
  if (command.aliases?.length)
    lines.push('', `Also: ${command.aliases.map((a) => `protector ${a.join(' ')}`).join(', ')}`);
  if (command.positionals?.length) {
    lines.push('', 'Arguments:');
    const width = Math.max(...command.positionals.map((p) => p.name.length + 2));
    for (const p of command.positionals) lines.push(`  ${`<${p.name}>`.padEnd(width)}  ${p.description}`);
  }
  if (command.options && Object.keys(command.options).length > 0) {
    lines.push('', 'Options:', ...optionLines(command.options));
  }
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

function groupHelp(group: string | undefined): string {
  const commands = group ? COMMANDS.filter((c) => c.path[0] === group) : COMMANDS;
  const width = Math.max(...commands.map((c) => keyOf(c.path).length));
  const lines = [
    group ? `Usage: protector ${group} <command> [options]` : 'Usage: protector <command> [options]',
    '',
    group
      ? `Commands of '${group}':`
      : 'Disaster recovery for two OpenStack sites (the openstack dr commands, against the Protector gateway).\n\nCommands:',
    ...commands.map((c) => `  ${keyOf(c.path).padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    `Run 'protector <command> --help' for the options of a command. 'pg' is short for 'protection-group'.`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Parses `boston=TOKEN` entries; never echoes a token in a message. */
function parseSiteTokens(entries: readonly string[], source: string): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at < 0) {
      throw new UsageError(`${source} expects KEY=TOKEN (e.g. boston=$BOSTON_TOKEN); one value has no '='`);
    }
    const key = entry.slice(0, at).trim();
    const token = entry.slice(at + 1).trim();
    if (!SITE_KEY_PATTERN.test(key)) {
      throw new UsageError(
        `${source}: '${key}' is not a site key; use the key shown by 'protector site list' (e.g. boston=$BOSTON_TOKEN)`,
      );
    }
    if (token.length === 0) throw new UsageError(`${source}: the token of site '${key}' is empty`);
    tokens[key] = token;
  }
  return tokens;
}

/** The global settings, from flags over environment over defaults. */
function compileGlobals(values: Readonly<Record<string, unknown>>, env: CliIo['env']) {
  const url = stringOption(values as never, 'url') ?? env['PROTECTOR_URL'] ?? DEFAULT_GATEWAY_URL;
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(url);
  } catch {
    parsedUrl = undefined;
  }
  if (!parsedUrl || (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:')) {
    throw new UsageError(
      `Option --url (or PROTECTOR_URL) must be an http(s) URL such as ${DEFAULT_GATEWAY_URL}; got '${url}'`,
    );
  }
  const format = (stringOption(values as never, 'format') ?? 'table').toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`Option -f/--format must be one of ${OUTPUT_FORMATS.join(', ')}; got '${format}'`);
  }
  const rawTimeout = stringOption(values as never, 'timeout') ?? env['PROTECTOR_TIMEOUT'];
  const timeoutSeconds = rawTimeout === undefined ? 30 : Number(rawTimeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError(
      `Option --timeout (or PROTECTOR_TIMEOUT) must be a number of seconds above 0; got '${rawTimeout}'`,
    );
  }
  const envTokens = env['PROTECTOR_SITE_TOKENS'];
  const siteTokens = {
    ...parseSiteTokens(
      envTokens ? envTokens.split(',').filter((entry) => entry.trim().length > 0) : [],
      'Environment variable PROTECTOR_SITE_TOKENS',
    ),
    ...parseSiteTokens((values['site-token'] as string[] | undefined) ?? [], 'Option --site-token'),
  };
  const token = stringOption(values as never, 'os-token') ?? env['PROTECTOR_TOKEN'] ?? env['OS_TOKEN'];
  if (token !== undefined && token.trim().length === 0) {
    throw new UsageError('Option --os-token (or PROTECTOR_TOKEN / OS_TOKEN) is empty; pass a Keystone token');
  }
  return {
    url,
    format: format as OutputFormat,
    timeoutMs: Math.round(timeoutSeconds * 1000),
    siteTokens,
    token,
  };
}

/** Prints a failure the way the CLI reports it, and returns the exit code. */
function report(error: unknown, io: CliIo, hint: string | undefined, debug: boolean): number {
  if (error instanceof UsageError) {
    io.stderr(`Error: ${error.message}\n${hint ? `${hint}\n` : ''}`);
    return EXIT.usage;
  }
  if (error instanceof ProtectorClientError) {
    const errors = error.errors.length > 0 ? error.errors : [{ code: error.code, message: error.message }];
    for (const e of errors) io.stderr(`Error (${e.code ?? 'UNKNOWN_ERROR'}): ${e.message}\n`);
    return EXIT.failure;
  }
  if (error instanceof ProtectorConnectionError || error instanceof CommandFailure) {
    io.stderr(`Error (${error.code}): ${error.message}\n`);
    return EXIT.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`Error (INTERNAL): ${message}\n`);
  if (debug && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return EXIT.failure;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const words = commandWords(argv);
  const match = matchCommand(words);
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (!match) {
    const first = words[0]?.word;
    if (wantsHelp || first === undefined || first === 'help') {
      const group = first === 'help' ? words[1]?.word : first;
      io.stdout(groupHelp(group && GROUPS.includes(group) ? group : undefined));
      return EXIT.ok;
    }
    if (GROUPS.includes(first)) {
      const sub = words[1]?.word;
      io.stderr(
        `Error: ${sub ? `'${sub}' is not a command of '${first}'` : `'${first}' needs a command`}.\n${groupHelp(first)}`,
      );
      return EXIT.usage;
    }
    io.stderr(`Error: unknown command '${first}'. Run 'protector --help' for the list of commands.\n`);
    return EXIT.usage;
  }
  const { command, length } = match;
  const commandName = `protector ${keyOf(command.path)}`;
  const hint = `Run '${commandName} --help' for usage.`;
  if (wantsHelp) {
    io.stdout(commandHelp(command));
    return EXIT.ok;
  }
  const skip = new Set(words.slice(0, length).map((w) => w.index));
  const rest = argv.filter((_, index) => !skip.has(index));
  let debug = false;
  let client: ProtectorClient | undefined;
  try {
    const options = { ...GLOBAL_OPTIONS, ...command.options };
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: [...rest],
        options: Object.fromEntries(
          Object.entries(options).map(([name, spec]) => [
            name,
            {
              type: spec.type,
              ...(spec.short ? { short: spec.short } : {}),
              ...(spec.multiple ? { multiple: true } : {}),
            },
          ]),
        ),
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      // parseArgs messages echo the offending token; for a secret option that could be the secret itself.
      const code = (error as { code?: string }).code;
      const message = error instanceof Error ? error.message : String(error);
      const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
      if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
        throw new UsageError(`Unknown option ${option ?? ''} for '${commandName}'`);
      }
      if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
        if (message.includes('ambiguous')) {
          throw new UsageError(
            `Option ${option ?? ''} needs a value; for a value starting with '-', write ${option ?? '--option'}=<value>`,
          );
        }
        throw new UsageError(
          `Option ${option ?? ''} ${message.includes('argument missing') ? 'needs a value' : 'takes no value'}`,
        );
      }
      if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
        throw new UsageError(`Too many arguments for '${commandName}'`);
      throw new UsageError(message);
    }
    const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    debug = values['debug'] === true;
    const globals = compileGlobals(values, io.env);
    const specs = command.positionals ?? [];
    const repeated = specs.at(-1)?.repeated ? parsed.positionals.slice(specs.length - 1) : [];
    if (!repeated.length && parsed.positionals.length > specs.length) {
      throw new UsageError(
        `Too many arguments for '${commandName}': '${parsed.positionals.slice(specs.length).join(' ')}'`,
      );
    }
    const args: Record<string, string | undefined> = {};
    specs.forEach((spec, index) => {
      const value = parsed.positionals[index];
      if (value === undefined && !spec.optional) {
        throw new UsageError(
          `Missing argument <${spec.name}> (${spec.description}). Usage: ${usageLine(command)}`,
        );
      }
      args[spec.name] = value;
    });
    const exit = await command.run({
      client() {
        client ??= createProtectorClient({
          url: globals.url,
          timeoutMs: globals.timeoutMs,
          siteTokens: globals.siteTokens,
          ...(globals.token === undefined ? {} : { token: globals.token }),
          headers: { 'user-agent': 'protector-cli/0.1.0' },
          ...(debug
            ? {
                onRequest: (info) =>
                  io.stderr(
                    `DEBUG POST ${info.url} ${info.operationName ?? ''} variables=${JSON.stringify(
                      redactSecrets(info.variables),
                    )} headers=${JSON.stringify(info.headers)}\n`,
                  ),
              }
            : {}),
        });
        return client;
      },
      format: globals.format,
      values,
      args,
      repeated,
      print: (result) => io.stdout(formatResult(result, globals.format)),
      note: (line) => io.stderr(`${line}\n`),
      env: io.env,
    });
    return exit ?? EXIT.ok;
  } catch (error) {
    return report(error, io, hint, debug);
  } finally {
    await client?.close();
  }
}
