import { describe, expect, it } from 'vitest';
import {
  arrayUrlProblem,
  defaultStorageGroupName,
  defaultTestNetworkCidr,
  flashArrayNameProblem,
  isSecretKey,
  policyNumberProblem,
  protectionGroupNameProblem,
  redactSecrets,
  redactUrlPassword,
  siteNameProblem,
  sizeProblem,
  suffixProblem,
  testNetworkCidrProblem,
  testNetworkProblem,
  testNetworkRoom,
  urlProblem,
  volumeNameProblem,
} from './index.js';

/** Every shared rule, one table each: input, then whether the rule accepts it (null) or why not. */
const RULES: {
  readonly rule: string;
  readonly check: (value: string) => string | null;
  readonly cases: readonly [string, RegExp | null][];
}[] = [
  {
    rule: 'FlashArray object name',
    check: flashArrayNameProblem,
    cases: [
      ['pg-prod-web-app', null],
      ['a', null],
      ['A1-b2', null],
      ['x'.repeat(63), null],
      ['x'.repeat(64), /Invalid name/],
      ['-leading', /Invalid name/],
      ['trailing-', /Invalid name/],
      ['has_underscore', /Invalid name/],
      ['has.dot', /Invalid name/],
      ['12345', /at least one letter/],
      ['', /Invalid name/],
    ],
  },
  {
    rule: 'FlashArray volume name (pod::volume)',
    check: volumeNameProblem,
    cases: [
      ['vol-1', null],
      ['pod-a::vol-1', null],
      ['pod-a::vol_1', /Invalid name 'pod-a::vol_1'/],
      ['a::b::c', /Invalid name/],
    ],
  },
  {
    rule: 'snapshot suffix',
    check: suffixProblem,
    cases: [
      ['1234', null],
      ['drill-1', null],
      ['bad_suffix', /Invalid suffix/],
    ],
  },
  {
    rule: 'Protection Group name',
    check: protectionGroupNameProblem,
    cases: [
      ['prod-web-app', null],
      ['Web tier 1.0_b', null],
      [' leading space', /Protection Group name ' leading space' is not valid/],
      ['x'.repeat(64), /is not valid/],
      ['semi;colon', /is not valid/],
    ],
  },
  {
    rule: 'site name',
    check: siteNameProblem,
    cases: [
      ['boston', null],
      ['site_a.dc-1', null],
      ['with space', /Site name 'with space' is not valid/],
      ['', /is not valid/],
    ],
  },
  {
    rule: 'endpoint URL',
    check: (value) => urlProblem(value),
    cases: [
      ['https://protector.boston.example.com:8788/graphql', null],
      ['http://127.0.0.1:5000/v3', null],
      ['not a url', /is not a URL/],
      ['ftp://host/x', /has scheme ftp, not http or https/],
    ],
  },
  {
    rule: 'FlashArray management URL (HTTPS only)',
    check: arrayUrlProblem,
    cases: [
      ['https://flasharray-a.example.com', null],
      ['https://10.0.0.5:8443', null],
      ['http://flasharray-a.example.com', /is refused: HTTPS required/],
      ['flasharray-a', /is not a URL/],
    ],
  },
];

describe('shared rules', () => {
  for (const { rule, check, cases } of RULES) {
    it.each(cases)(`${rule}: %j`, (value, expected) => {
      const problem = check(value);
      if (expected === null) expect(problem).toBeNull();
      else expect(problem).toMatch(expected);
    });
  }

  it.each([
    [512, null],
    [1024 ** 3, null],
    [0, /positive whole number/],
    [1000, /multiple of 512/],
    [4 * 1024 ** 5 + 512, /4 PiB/],
    ['10', /positive whole number/],
  ] as const)('FlashArray volume size: %j', (bytes, expected) => {
    const problem = sizeProblem(bytes);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  const id = '6f1c2a9e-0b7d-4c55-9a10-3e2f4d5c6b7a';
  it.each([
    ['prod-web-app', 'pg-prod-web-app-6f1c2a9e'],
    ['Web tier 1.0', 'pg-Web-tier-1-0-6f1c2a9e'],
    ['...', 'pg-group-6f1c2a9e'],
    ['x'.repeat(80), `pg-${'x'.repeat(50)}-6f1c2a9e`],
  ])('default storage group name of %j is %j (FlashArray-legal)', (pgName, expected) => {
    expect(defaultStorageGroupName(pgName, id)).toBe(expected);
    expect(flashArrayNameProblem(defaultStorageGroupName(pgName, id))).toBeNull();
  });

  it('gives two groups whose names differ only in punctuation, or that two tenants own, two array groups', () => {
    const a = defaultStorageGroupName('a', '11111111-0000-0000-0000-000000000000');
    const b = defaultStorageGroupName('a..', '22222222-0000-0000-0000-000000000000');
    const c = defaultStorageGroupName('a', '33333333-0000-0000-0000-000000000000');
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it.each([
    ['primaryArrayToken', true],
    ['password', true],
    ['serviceCredentials', true],
    ['apiKey', true],
    ['api_key', true],
    ['Authorization', true],
    ['X-Site-Token-boston', true],
    ['privateKey', true],
    ['clientSecret', true],
    ['name', false],
    ['primaryArrayUrl', false],
    ['hasPrimaryToken', true],
  ])('isSecretKey(%j) is %j', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });

  it('masks every secret value deeply, keeping what reveals nothing', () => {
    const input = {
      name: 'prod-web-app',
      policy: { primaryArrayToken: 'T-1', hasPrimaryToken: true, secondaryArrayToken: null },
      sites: [{ serviceCredentials: { username: 'u', password: 'p' }, apiKey: 'k' }],
      headers: { authorization: 'Bearer x' },
    };
    expect(redactSecrets(input, '***')).toEqual({
      name: 'prod-web-app',
      policy: { primaryArrayToken: '***', hasPrimaryToken: true, secondaryArrayToken: null },
      sites: [{ serviceCredentials: '***', apiKey: '***' }],
      headers: { authorization: '***' },
    });
    expect(input.policy.primaryArrayToken).toBe('T-1'); // a copy: the input is untouched
  });

  it.each([
    ['postgresql://protector:s3cr3t@db:5432/site', 'postgresql://protector:***@db:5432/site'],
    ['postgresql://db:5432/site', 'postgresql://db:5432/site'],
    ['https://user:p@ss@host/x', 'https://user:***@host/x'],
    ['not a url', 'not a url'],
  ])('redactUrlPassword(%j) is %j', (url, expected) => {
    expect(redactUrlPassword(url)).toBe(expected);
  });

  it.each([
    ['192.168.250.0/24', null],
    ['10.20.0.0/16', null],
    ['172.16.5.8/29', null],
    ['999.999.999.999/99', /octet/],
    ['192.168.250.0/8', /prefix \/8/],
    ['192.168.250.0/30', /prefix \/30/],
    ['192.168.250.1/24', /host bits set; the network is 192\.168\.250\.0\/24/],
    ['192.168.01.0/24', /leading zeros/],
    ['fe80::/64', /not an IPv4 network/],
    ['192.168.250.0', /not an IPv4 network/],
  ])('drill network CIDR %j: %s', (cidr, expected) => {
    const problem = testNetworkCidrProblem(cidr);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it.each([
    [1, '192.168.250.0/24'],
    [252, '192.168.250.0/24'],
    [253, '192.168.250.0/23'],
    [500, '192.168.250.0/23'],
    [1000, '192.168.248.0/22'],
    [4000, '192.168.240.0/20'],
    [70_000, '192.168.0.0/16'],
  ])('the default drill network of %i servers is %s, and it holds them (up to a /16)', (servers, cidr) => {
    expect(defaultTestNetworkCidr(servers)).toBe(cidr);
    expect(testNetworkCidrProblem(cidr)).toBeNull();
    if (servers <= testNetworkRoom(16)) expect(testNetworkProblem(cidr, servers)).toBeNull();
  });

  it('refuses a drill network too small for the group, naming the prefix that fits', () => {
    expect(testNetworkProblem('10.0.0.0/26', 60)).toBeNull();
    expect(testNetworkProblem('10.0.0.0/26', 61)).toBe(
      "'10.0.0.0/26' has room for 60 servers but the drill recovers 61; give a /25 or larger",
    );
    expect(testNetworkProblem('192.168.250.0/24', 500)).toMatch(
      /room for 252 servers .* give a \/23 or larger$/,
    );
    expect(testNetworkProblem('10.0.0.1/24', 1)).toMatch(/host bits set/);
  });

  it.each([
    ['replicationIntervalSeconds', 30, null],
    ['replicationIntervalSeconds', 86_400, null],
    ['replicationIntervalSeconds', 2 ** 31 - 1, /from 1 to 86400/],
    ['replicationIntervalSeconds', 0, /from 1 to 86400/],
    ['rpoMinutes', 15, null],
    ['rpoMinutes', 10_081, /from 1 to 10080/],
    ['rpoMinutes', 1.5, /whole number/],
  ] as const)('policy %s = %j: %s', (field, value, expected) => {
    const problem = policyNumberProblem(field, value);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});
