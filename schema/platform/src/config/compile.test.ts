import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProtectorError, type ProtectorError } from '@protector/schema';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type ConfigProblem, compileConfig, parseOsloBool } from './compile.js';
import { defineConfigTable, envVarName, option } from './options.js';
import { redactConfig } from './redact.js';

const TOKEN = 'T-secret-1111-2222';

const table = defineConfigTable({
  fileName: 'test.conf',
  envPrefix: 'TEST',
  sections: {
    DEFAULT: {
      debug: option.bool({ description: 'Verbose logs.', default: false }),
      state_path: option.path({ description: 'State.', default: '/var/lib/test' }),
      data_dir: option.path({ description: 'Data.', default: '$state_path/data' }),
      name: option.string({
        description: 'Name.',
        required: true,
        pattern: /^[a-z][a-z0-9_]{0,30}$/,
        patternHint: 'a lower-case name',
      }),
      lab: option.bool({ description: 'Lab mode.', default: false }),
    },
    remote: {
      url: option.url({
        description: 'Remote.',
        httpsOnly: true,
        fixHint: 'The remote serves HTTPS only.',
        ignoreWhen: (c) => c['DEFAULT']?.['lab'] === true,
      }),
      token: option.string({ description: 'Token.', secret: true, minLength: 8 }),
      interval: option.int({ description: 'Interval.', default: 300, min: 1, unit: 'seconds' }),
      interface: option.enum({
        description: 'Interface.',
        choices: ['public', 'internal', 'admin'],
        default: 'public',
      }),
      names: option.list({
        description: 'Names.',
        default: ['a', 'b'],
        pattern: /^[a-z]+$/,
        patternHint: 'letters',
      }),
      db: option.string({
        description: 'DB URL.',
        redact: (v) => v.replace(/:[^:@/]*@/, ':***@'),
      }),
    },
  },
  validate: (config) =>
    config.remote.interval !== undefined && config.remote.interval > 3600
      ? [{ section: 'remote', option: 'interval', message: 'interval is over an hour.', fix: 'Lower it.' }]
      : [],
});

const compile = (text: string, env: Record<string, string> = {}) => compileConfig(table, { text, env });

function problemsOf(fn: () => unknown): { error: ProtectorError; problems: ConfigProblem[] } {
  try {
    fn();
  } catch (err) {
    if (isProtectorError(err, 'CONFIG_INVALID')) {
      return { error: err, problems: err.details['problems'] as ConfigProblem[] };
    }
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('compileConfig', () => {
  it('applies defaults, expands references and returns a typed, frozen config', () => {
    const config = compile('[DEFAULT]\nname = site_a\nstate_path = /srv/test/\n');
    expect(config.DEFAULT).toEqual({
      debug: false,
      state_path: '/srv/test',
      data_dir: '/srv/test/data',
      name: 'site_a',
      lab: false,
    });
    expect(config.remote.interval).toBe(300);
    expect(config.remote.interface).toBe('public');
    expect(config.remote.names).toEqual(['a', 'b']);
    expect(config.remote.url).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.DEFAULT)).toBe(true);
    expect(Object.isFrozen(config.remote.names)).toBe(true);
    expectTypeOf(config.DEFAULT.name).toEqualTypeOf<string>();
    expectTypeOf(config.DEFAULT.debug).toEqualTypeOf<boolean>();
    expectTypeOf(config.remote.interval).toEqualTypeOf<number>();
    expectTypeOf(config.remote.interface).toEqualTypeOf<'public' | 'internal' | 'admin'>();
    expectTypeOf(config.remote.url).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.remote.token).toEqualTypeOf<string | undefined>();
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['Yes', true],
    ['on', true],
    ['1', true],
    ['False', false],
    ['no', false],
    ['OFF', false],
    ['0', false],
  ])('parses the oslo boolean %s', (text, expected) => {
    expect(parseOsloBool(text)).toBe(expected);
    expect(compile(`[DEFAULT]\nname = a\ndebug = ${text}\n`).DEFAULT.debug).toBe(expected);
  });

  it('refuses a value that is not a boolean', () => {
    const { problems } = problemsOf(() => compile('[DEFAULT]\nname = a\ndebug = maybe\n'));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe("[DEFAULT] debug = 'maybe' (test.conf:3) is not a boolean.");
    expect(problems[0]?.fix).toBe(
      'Set debug in [DEFAULT] of test.conf to True or False (yes/no, on/off and 1/0 also work).',
    );
  });

  it('lets the environment override the file', () => {
    const env = { TEST_DEFAULT__NAME: 'from_env', TEST_REMOTE__INTERVAL: '60', TEST_DEFAULT__DEBUG: '' };
    const config = compile('[DEFAULT]\nname = from_file\ndebug = yes\n[remote]\ninterval = 10\n', env);
    expect(config.DEFAULT.name).toBe('from_env');
    expect(config.remote.interval).toBe(60);
    // An empty variable counts as unset, so the file's value stays.
    expect(config.DEFAULT.debug).toBe(true);
    expect(envVarName(table, 'remote', 'interval')).toBe('TEST_REMOTE__INTERVAL');
  });

  it('names the environment variable when its value is bad', () => {
    const { problems } = problemsOf(() =>
      compile('', { TEST_DEFAULT__NAME: 'a', TEST_REMOTE__INTERVAL: '0' }),
    );
    expect(problems[0]?.message).toBe(
      "[remote] interval = '0' (environment TEST_REMOTE__INTERVAL) is below 1.",
    );
    expect(problems[0]?.fix).toBe(
      'Set the environment variable TEST_REMOTE__INTERVAL to an integer of at least 1 (seconds).',
    );
  });

  it('reports unknown sections, options and variables with suggestions', () => {
    const { problems } = problemsOf(() =>
      compile(
        '[DEFAULT]\nname = a\ndebgu = 1\n[remote]\nlab = True\nintervl = 5\nzzz = 1\n[remot]\nx = 1\n',
        {
          TEST_REMOTE__INTREVAL: '5',
          TEST_OTHER__X: '1',
          UNRELATED: '1',
        },
      ),
    );
    expect(problems.map((p) => [p.kind, p.message, p.fix])).toEqual([
      [
        'unknown-option',
        "Unknown option 'debgu' in [DEFAULT] (test.conf:3).",
        'Did you mean debug? Rename the option or remove the line.',
      ],
      [
        'unknown-option',
        "Unknown option 'lab' in [remote] (test.conf:5).",
        'lab belongs in [DEFAULT]; move the line there.',
      ],
      [
        'unknown-option',
        "Unknown option 'intervl' in [remote] (test.conf:6).",
        'Did you mean interval? Rename the option or remove the line.',
      ],
      [
        'unknown-option',
        "Unknown option 'zzz' in [remote] (test.conf:7).",
        'Remove the line; [remote] has no such option (see the configuration reference).',
      ],
      [
        'unknown-section',
        'Unknown section [remot] (test.conf:8).',
        'Did you mean [remote]? Rename or remove the section; test.conf has [DEFAULT], [remote].',
      ],
      [
        'unknown-env',
        "Unknown environment variable TEST_REMOTE__INTREVAL: [remote] has no option 'intreval'.",
        'Did you mean TEST_REMOTE__INTERVAL? Rename or unset the variable.',
      ],
    ]);
  });

  it('refuses http:// where HTTPS is required and says how to fix it', () => {
    const { problems } = problemsOf(() =>
      compile('[DEFAULT]\nname = a\n[remote]\nurl = http://fa.example.com\n'),
    );
    expect(problems[0]?.message).toBe(
      "[remote] url = 'http://fa.example.com' (test.conf:4) is refused: HTTPS required, http:// URLs are not allowed.",
    );
    expect(problems[0]?.fix).toBe(
      "Set url in [remote] of test.conf to an https:// URL (did you mean 'https://fa.example.com'?). The remote serves HTTPS only.",
    );
  });

  it('skips an ignored option entirely, bad value and all', () => {
    const config = compile('[DEFAULT]\nname = a\nlab = on\n[remote]\nurl = http://nope\n');
    expect(config.remote.url).toBeUndefined();
  });

  it('lists every problem at once: missing required, bad values, enum suggestion, rules', () => {
    const { error, problems } = problemsOf(() =>
      compile('[remote]\ninterval = 7200\ninterface = pubilc\nnames = a,B\ntoken = short\n'),
    );
    expect(problems.map((p) => p.kind)).toEqual([
      'invalid-value',
      'invalid-value',
      'invalid-value',
      'missing-option',
      'rule',
    ]);
    expect(error.message).toMatch(/^Configuration test\.conf is invalid \(5 problems\):\n {2}1\. /);
    expect(error.message).toContain("(did you mean 'public'?)");
    expect(error.message).toContain("has item 'B', which is not letters");
    expect(error.message).toContain('[DEFAULT] name is required but not set.');
    expect(error.message).toContain('(or the environment variable TEST_DEFAULT__NAME) to a lower-case name.');
    expect(error.message).toContain('interval is over an hour.');
  });

  it('never prints a secret value, in errors or in redactConfig', () => {
    const { error } = problemsOf(() => compile('[DEFAULT]\nname = a\n[remote]\ntoken = T-1\n'));
    expect(error.message).toContain(
      '[remote] token = (value hidden) (test.conf:4) is shorter than 8 characters.',
    );
    expect(error.message).not.toContain('T-1');
    expect(JSON.stringify(error.toExtensions())).not.toContain('T-1');

    const config = compile(
      `[DEFAULT]\nname = a\n[remote]\ntoken = ${TOKEN}\ndb = postgresql://u:pw-secret@db/x\n`,
    );
    expect(config.remote.token).toBe(TOKEN);
    const redacted = redactConfig(config, table);
    expect(redacted['remote']?.['token']).toBe('***');
    expect(redacted['remote']?.['db']).toBe('postgresql://u:***@db/x');
    expect(JSON.stringify(redacted)).not.toContain(TOKEN);
    expect(JSON.stringify(redacted)).not.toContain('pw-secret');
  });

  it('reports syntax problems with file:line before anything else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    const path = join(dir, 'test.conf');
    writeFileSync(path, '[DEFAULT]\nname = a\nthis is not ini\n[remote\n');
    const { error, problems } = problemsOf(() => compileConfig(table, { path, env: {} }));
    expect(problems.map((p) => p.origin)).toEqual([`${path}:3`, `${path}:4`]);
    expect(error.message).toContain(`Configuration ${path} is not valid INI (2 problems)`);
  });

  it('reads a file, and says so when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    const path = join(dir, 'test.conf');
    writeFileSync(path, '[DEFAULT]\nname = from_file\n');
    expect(compileConfig(table, { path, env: {} }).DEFAULT.name).toBe('from_file');
    const { error } = problemsOf(() => compileConfig(table, { path: join(dir, 'missing.conf'), env: {} }));
    expect(error.message).toContain('Cannot read configuration file');
    expect(error.message).toContain('ENOENT');
  });

  it('expands $name, braced $section.name references and $$ in paths, and reports bad references', () => {
    const braced = '$' + '{DEFAULT.state_path}';
    const config = compile(`[DEFAULT]\nname = a\nstate_path = /srv/$$x\ndata_dir = ${braced}/d\n`);
    expect(config.DEFAULT.data_dir).toBe('/srv/$x/d');
    const { problems } = problemsOf(() => compile('[DEFAULT]\nname = a\ndata_dir = $nope/d\n'));
    expect(problems[0]?.message).toBe(
      '[DEFAULT] data_dir (test.conf:3) references $nope, which is not an option.',
    );
  });

  it('does not expand $ in strings, so secrets are taken literally', () => {
    const config = compile('[DEFAULT]\nname = a\n[remote]\ntoken = pa$$word$state_path\n');
    expect(config.remote.token).toBe('pa$$word$state_path');
  });

  it('refuses relative paths', () => {
    const { problems } = problemsOf(() => compile('[DEFAULT]\nname = a\nstate_path = var/lib\n'));
    expect(problems[0]?.message).toContain('is not an absolute path');
  });
});
