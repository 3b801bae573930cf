/**
 * The option compiler: INI text (or a file) plus the environment, checked against an option table,
 * gives a typed, frozen config, or one CONFIG_INVALID error that lists every problem at once.
 * Precedence: environment variable, then file, then default.
 */
import { readFileSync } from 'node:fs';
import { ProtectorError, urlProblem } from '@protector/schema';
import { type ParsedIni, parseIni } from './ini.js';
import {
  type ConfigOf,
  type ConfigSections,
  type ConfigTable,
  envVarName,
  type OptionSpec,
  type PartialConfigOf,
} from './options.js';
import { closestMatch } from './suggest.js';

/** An environment: `process.env` in a service, a plain object in tests. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

export interface CompileConfigInput {
  /** The file's text. When given, `path` is only used to name the file in messages. */
  readonly text?: string;
  /** The file to read when `text` is not given. With neither, only the environment and defaults apply. */
  readonly path?: string;
  /** Overrides; `<PREFIX>_<SECTION>__<NAME>`. Empty variables count as unset. @default process.env */
  readonly env?: ConfigEnv;
}

/** One thing wrong with a configuration; CONFIG_INVALID errors carry them all in `details.problems`. */
export interface ConfigProblem {
  readonly kind:
    | 'syntax'
    | 'unknown-section'
    | 'unknown-option'
    | 'unknown-env'
    | 'invalid-value'
    | 'missing-option'
    | 'rule';
  readonly section?: string;
  readonly option?: string;
  /** Where the offending text came from: `protector.conf:12`, `environment PROTECTOR_API__BIND_PORT`, `default`. */
  readonly origin?: string;
  /** What is wrong; never contains a secret's value. */
  readonly message: string;
  /** What to change. */
  readonly fix: string;
}

const BOOL_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  yes: true,
  on: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  '0': false,
};

/** oslo.config booleans: true/false, yes/no, on/off, 1/0, any case. Undefined when `text` is none of them. */
export function parseOsloBool(text: string): boolean | undefined {
  return BOOL_WORDS[text.trim().toLowerCase()];
}

/** How a value is shown in messages: quoted, redacted, or hidden for secrets. */
export function displayValue(spec: OptionSpec, value: string): string {
  if (spec.secret) return '(value hidden)';
  return `'${spec.redact ? spec.redact(value) : value}'`;
}

/** The fix-phrase describing what an option accepts, e.g. "an integer of at least 1 (seconds)". */
export function describeExpected(spec: OptionSpec): string {
  switch (spec.type) {
    case 'string': {
      const parts = [spec.patternHint ?? 'a string'];
      if (spec.minLength !== undefined) parts.push(`of at least ${spec.minLength} characters`);
      return parts.join(' ');
    }
    case 'url':
      return spec.httpsOnly ? 'an https:// URL' : 'an http:// or https:// URL';
    case 'int': {
      const unit = spec.unit ? ` (${spec.unit})` : '';
      if (spec.min !== undefined && spec.max !== undefined)
        return `an integer from ${spec.min} to ${spec.max}${unit}`;
      if (spec.min !== undefined) return `an integer of at least ${spec.min}${unit}`;
      if (spec.max !== undefined) return `an integer of at most ${spec.max}${unit}`;
      return `an integer${unit}`;
    }
    case 'bool':
      return 'True or False (yes/no, on/off and 1/0 also work)';
    case 'enum':
      return `one of ${spec.choices.join(', ')}`;
    case 'path':
      return 'an absolute path';
    case 'list': {
      const item = spec.patternHint ? `, each ${spec.patternHint}` : '';
      const min = spec.minItems ? `at least ${spec.minItems} ` : '';
      return `a comma-separated list of ${min}items${item}`;
    }
    default:
      return unreachable(spec);
  }
}

function unreachable(value: never): never {
  throw new Error(`Unhandled option spec ${JSON.stringify(value)}`);
}

type Converted = { ok: true; value: unknown } | { ok: false; reason: string; suggestion?: string };

function normalizePath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

/** Converts one textual value by its option type. */
function convert(spec: OptionSpec, text: string): Converted {
  switch (spec.type) {
    case 'string': {
      if (spec.minLength !== undefined && text.length < spec.minLength)
        return { ok: false, reason: `is shorter than ${spec.minLength} characters` };
      if (spec.pattern && !spec.pattern.test(text))
        return { ok: false, reason: `is not ${spec.patternHint ?? `a string matching ${spec.pattern}`}` };
      const wrong = spec.check?.(text);
      return wrong === undefined ? { ok: true, value: text } : { ok: false, reason: wrong };
    }
    case 'url': {
      const problem = urlProblem(text, { httpsOnly: spec.httpsOnly });
      if (!problem) return { ok: true, value: text };
      return spec.httpsOnly && /^http:\/\//i.test(text)
        ? { ok: false, reason: problem, suggestion: `https://${text.slice('http://'.length)}` }
        : { ok: false, reason: problem };
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(text)) return { ok: false, reason: 'is not an integer' };
      const value = Number(text);
      if (!Number.isSafeInteger(value)) return { ok: false, reason: 'is too large' };
      if (spec.min !== undefined && value < spec.min) return { ok: false, reason: `is below ${spec.min}` };
      if (spec.max !== undefined && value > spec.max) return { ok: false, reason: `is above ${spec.max}` };
      return { ok: true, value };
    }
    case 'bool': {
      const value = parseOsloBool(text);
      return value === undefined ? { ok: false, reason: 'is not a boolean' } : { ok: true, value };
    }
    case 'enum': {
      if (spec.choices.includes(text)) return { ok: true, value: text };
      const near = closestMatch(text, spec.choices);
      return near === undefined
        ? { ok: false, reason: 'is not an allowed value' }
        : { ok: false, reason: 'is not an allowed value', suggestion: near };
    }
    case 'path': {
      if (!text.startsWith('/')) return { ok: false, reason: 'is not an absolute path' };
      return { ok: true, value: normalizePath(text) };
    }
    case 'list': {
      const items = text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      if (spec.minItems !== undefined && items.length < spec.minItems)
        return { ok: false, reason: `has ${items.length} item(s), fewer than ${spec.minItems}` };
      const bad = spec.pattern ? items.find((item) => !spec.pattern?.test(item)) : undefined;
      if (bad !== undefined)
        return {
          ok: false,
          reason: `has item ${spec.secret ? '(hidden)' : `'${bad}'`}, which is not ${spec.patternHint ?? `matching ${spec.pattern}`}`,
        };
      if (spec.unique && new Set(items).size !== items.length)
        return { ok: false, reason: 'repeats an item' };
      return { ok: true, value: Object.freeze(items) };
    }
    default:
      return unreachable(spec);
  }
}

/** Renders a typed value back to file syntax (lists comma-joined, booleans oslo-style). */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

interface RawValue {
  readonly text: string;
  /** `protector.conf:12` or `environment PROTECTOR_API__BIND_PORT`. */
  readonly origin: string;
  readonly fromEnv: boolean;
}

type Slot =
  | { readonly state: 'ok'; readonly value: unknown }
  | { readonly state: 'unset' | 'failed' | 'ignored' | 'resolving' };

const REFERENCE = /\$(?:\$|\{([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}|([A-Za-z0-9_]+))/g;

/** Compiles a config; see the module comment. Throws one ProtectorError CONFIG_INVALID listing every problem. */
export function compileConfig<S extends ConfigSections>(
  table: ConfigTable<S>,
  input: CompileConfigInput = {},
): ConfigOf<S> {
  const env = input.env ?? process.env;
  const source = input.path ?? table.fileName;
  const text = input.text ?? (input.path === undefined ? '' : readConfigFile(input.path));

  const parsed = parseIni(text);
  if (parsed.problems.length > 0) {
    throw configError(
      source,
      parsed.problems.map((p) => ({
        kind: 'syntax',
        origin: `${source}:${p.line}`,
        message: p.message,
        fix: p.fix,
      })),
      'is not valid INI',
    );
  }

  const problems: ConfigProblem[] = [];
  const sections: ConfigSections = table.sections;
  problems.push(...findUnknownNames(table, parsed, source), ...findUnknownEnv(table, env));

  const raw = (section: string, name: string): RawValue | undefined => {
    const variable = envVarName(table, section, name);
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '')
      return { text: fromEnv, origin: `environment ${variable}`, fromEnv: true };
    const entry = parsed.sections.get(section)?.entries.get(name);
    if (entry !== undefined && entry.value !== '')
      return { text: entry.value, origin: `${source}:${entry.line}`, fromEnv: false };
    return undefined;
  };

  const slots = new Map<string, Slot>();
  const view: Record<string, Record<string, unknown>> = {};
  for (const section of Object.keys(sections)) view[section] = {};

  const where = (section: string, name: string, value: RawValue | undefined): string =>
    value?.fromEnv
      ? `the environment variable ${envVarName(table, section, name)}`
      : `${name} in [${section}] of ${table.fileName}`;

  const expand = (template: string, section: string, name: string, origin: string): string | undefined => {
    let failed = false;
    const result = template.replace(REFERENCE, (match, braced?: string, dotted?: string, bare?: string) => {
      if (match === '$$') return '$';
      const refSection = dotted === undefined ? undefined : braced;
      const refName = dotted ?? braced ?? bare ?? '';
      const target =
        refSection !== undefined
          ? refSection
          : sections[section]?.[refName] !== undefined
            ? section
            : sections['DEFAULT']?.[refName] !== undefined
              ? 'DEFAULT'
              : undefined;
      if (target === undefined || sections[target]?.[refName] === undefined) {
        problems.push({
          kind: 'invalid-value',
          section,
          option: name,
          origin,
          message: `[${section}] ${name} (${origin}) references ${match}, which is not an option.`,
          fix: `Reference an existing option, e.g. $state_path, or write $$ for a literal $.`,
        });
        failed = true;
        return match;
      }
      const slot = resolve(target, refName);
      if (slot.state === 'ok') return formatValue(slot.value);
      if (slot.state === 'unset' || slot.state === 'ignored') {
        problems.push({
          kind: 'invalid-value',
          section,
          option: name,
          origin,
          message: `[${section}] ${name} (${origin}) references ${match}, which is not set.`,
          fix: `Set ${refName} in [${target}], or give ${name} a value that does not reference it.`,
        });
      } else if (slot.state === 'resolving') {
        problems.push({
          kind: 'invalid-value',
          section,
          option: name,
          origin,
          message: `[${section}] ${name} (${origin}) references ${match}, which refers back to it.`,
          fix: 'Break the cycle by giving one of the options a literal value.',
        });
      }
      // A referenced option that failed has its own problem already.
      failed = true;
      return match;
    });
    return failed ? undefined : result;
  };

  const resolve = (section: string, name: string): Slot => {
    const key = `${section}\u0000${name}`;
    const existing = slots.get(key);
    if (existing !== undefined) return existing;
    const spec = sections[section]?.[name];
    if (spec === undefined) return { state: 'failed' };
    slots.set(key, { state: 'resolving' });
    const slot = compileOne(section, name, spec);
    slots.set(key, slot);
    const values = view[section];
    if (slot.state === 'ok' && values !== undefined) values[name] = slot.value;
    return slot;
  };

  const compileOne = (section: string, name: string, spec: OptionSpec): Slot => {
    if (spec.ignoreWhen?.(view)) return { state: 'ignored' };
    const given = raw(section, name);
    let textValue: string | undefined;
    let origin: string;
    if (given !== undefined) {
      origin = given.origin;
      textValue =
        (spec.interpolate ?? spec.type === 'path') ? expand(given.text, section, name, origin) : given.text;
      if (textValue === undefined) return { state: 'failed' };
    } else if (spec.default === undefined) {
      return { state: 'unset' };
    } else if (typeof spec.default === 'string') {
      origin = 'default';
      textValue = expand(spec.default, section, name, origin);
      if (textValue === undefined) return { state: 'failed' };
    } else {
      return {
        state: 'ok',
        value: Array.isArray(spec.default) ? Object.freeze([...spec.default]) : spec.default,
      };
    }
    const converted = convert(spec, textValue);
    if (converted.ok) return { state: 'ok', value: converted.value };
    const suggestion =
      converted.suggestion !== undefined && !spec.secret ? ` (did you mean '${converted.suggestion}'?)` : '';
    problems.push({
      kind: 'invalid-value',
      section,
      option: name,
      origin,
      message: `[${section}] ${name} = ${displayValue(spec, given?.text ?? textValue)} (${origin}) ${converted.reason}.`,
      fix:
        given === undefined
          ? `The built-in default is invalid; set ${name} in [${section}] explicitly and report this as a bug.`
          : `Set ${where(section, name, given)} to ${describeExpected(spec)}${suggestion}.${spec.fixHint ? ` ${spec.fixHint}` : ''}`,
    });
    return { state: 'failed' };
  };

  const ignorableLast = Object.entries(sections).flatMap(([section, options]) =>
    Object.entries(options).map(([name, spec]) => ({ section, name, spec })),
  );
  ignorableLast.sort(
    (a, b) => Number(a.spec.ignoreWhen !== undefined) - Number(b.spec.ignoreWhen !== undefined),
  );
  for (const { section, name } of ignorableLast) resolve(section, name);

  for (const { section, name, spec } of ignorableLast) {
    if (!spec.required || slots.get(`${section}\u0000${name}`)?.state !== 'unset') continue;
    const variable = envVarName(table, section, name);
    const empty = parsed.sections.get(section)?.entries.get(name);
    problems.push({
      kind: 'missing-option',
      section,
      option: name,
      ...(empty ? { origin: `${source}:${empty.line}` } : {}),
      message: `[${section}] ${name} is required but ${empty ? `empty (${source}:${empty.line})` : 'not set'}.`,
      fix: `Set ${name} in [${section}] of ${table.fileName} (or the environment variable ${variable}) to ${describeExpected(spec)}.${spec.fixHint ? ` ${spec.fixHint}` : ''}`,
    });
  }

  if (table.validate) {
    const partial: Record<string, Record<string, unknown>> = {};
    for (const [section, options] of Object.entries(sections)) {
      partial[section] = Object.fromEntries(
        Object.keys(options).map((name) => [name, view[section]?.[name]]),
      );
    }
    const context = { isSet: (section: string, name: string) => raw(section, name) !== undefined };
    for (const rule of table.validate(partial as PartialConfigOf<S>, context)) {
      problems.push({ kind: 'rule', ...rule });
    }
  }

  if (problems.length > 0) throw configError(source, problems, 'is invalid');

  const config: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const [section, options] of Object.entries(sections)) {
    config[section] = Object.freeze(
      Object.fromEntries(Object.keys(options).map((name) => [name, view[section]?.[name]])),
    );
  }
  return Object.freeze(config) as ConfigOf<S>;
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const problem: ConfigProblem = {
      kind: 'syntax',
      origin: path,
      message: `Cannot read configuration file ${path} (${reason}).`,
      fix: 'Check the path given with --config and that the service user may read the file.',
    };
    throw configError(path, [problem], 'cannot be read', err);
  }
}

function findUnknownNames(table: ConfigTable, parsed: ParsedIni, source: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const known = Object.keys(table.sections);
  for (const [section, { line, entries }] of parsed.sections) {
    const options = table.sections[section];
    if (options === undefined) {
      const near = closestMatch(section, known);
      problems.push({
        kind: 'unknown-section',
        section,
        origin: `${source}:${line}`,
        message: `Unknown section [${section}] (${source}:${line}).`,
        fix: `${near === undefined ? '' : `Did you mean [${near}]? `}Rename or remove the section; ${table.fileName} has ${known.map((s) => `[${s}]`).join(', ')}.`,
      });
      continue;
    }
    for (const [name, entry] of entries) {
      if (options[name] !== undefined) continue;
      const origin = `${source}:${entry.line}`;
      const home = known.find((other) => table.sections[other]?.[name] !== undefined);
      const near = closestMatch(name, Object.keys(options));
      problems.push({
        kind: 'unknown-option',
        section,
        option: name,
        origin,
        message: `Unknown option '${name}' in [${section}] (${origin}).`,
        fix:
          home !== undefined
            ? `${name} belongs in [${home}]; move the line there.`
            : near !== undefined
              ? `Did you mean ${near}? Rename the option or remove the line.`
              : `Remove the line; [${section}] has no such option (see the configuration reference).`,
      });
    }
  }
  return problems;
}

/** Variables shaped like `<PREFIX>_<KNOWN SECTION>__<NAME>` whose NAME is not an option: likely typos. */
function findUnknownEnv(table: ConfigTable, env: ConfigEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const prefix = `${table.envPrefix.toUpperCase()}_`;
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined || value === '' || !variable.startsWith(prefix)) continue;
    const rest = variable.slice(prefix.length);
    const split = rest.indexOf('__');
    if (split <= 0) continue;
    const sectionPart = rest.slice(0, split);
    const section = Object.keys(table.sections).find((s) => s.toUpperCase() === sectionPart);
    if (section === undefined) continue;
    const options = Object.keys(table.sections[section] ?? {});
    const namePart = rest.slice(split + 2);
    if (options.some((name) => name.toUpperCase() === namePart)) continue;
    const candidates = options.map((name) => envVarName(table, section, name));
    const near = closestMatch(variable, candidates);
    problems.push({
      kind: 'unknown-env',
      section,
      origin: `environment ${variable}`,
      message: `Unknown environment variable ${variable}: [${section}] has no option '${namePart.toLowerCase()}'.`,
      fix: `${near === undefined ? '' : `Did you mean ${near}? `}Rename or unset the variable.`,
    });
  }
  return problems;
}

function configError(source: string, problems: readonly ConfigProblem[], what: string, cause?: unknown) {
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  const lines = problems.map((p, i) => `  ${i + 1}. ${p.message}\n     Fix: ${p.fix}`);
  return new ProtectorError(
    'CONFIG_INVALID',
    `Configuration ${source} ${what} (${count}):\n${lines.join('\n')}`,
    { source, problems },
    cause === undefined ? undefined : { cause },
  );
}
