/**
 * What the Keystone contract tests (keystone-contract.test.ts, keystone-tokens-contract.test.ts)
 * share: a Recorder that runs one script of identity-API calls against a Keystone (the simulator or a
 * real one) and keeps each answer, and the normalisation that makes two recordings comparable (ids,
 * tokens, secrets, base URLs, times and audit ids replaced by placeholders; Keystone's 400 messages cut
 * before their JSON-schema dump). Test code only: nothing of the simulator imports it.
 */

/** One recorded answer: what the script called it, its status and its body (or what the step keeps of it). */
export interface Entry {
  step: string;
  status: number;
  body: unknown;
  /** Response headers a step keeps (`x-subject-token`), null when absent. */
  headers?: Record<string, string | null>;
}

/** The Keystone a script runs against: its `/v3` URL and the admin's password. */
export interface Target {
  keystoneUrl: string;
  adminPassword: string;
}

/** The options of one call. */
export interface CallOptions {
  /** Extra request headers (`X-Subject-Token`). */
  headers?: Record<string, string>;
  /** Response headers to record (lower case), each null when absent. */
  keep?: string[];
}

/** A password-auth body: a user by name in domain `default`, optionally scoped to a project by name there. */
export function passwordAuth(user: string, password: string, project?: string): unknown {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, domain: { id: 'default' }, password } },
      },
      ...(project ? { scope: { project: { name: project, domain: { id: 'default' } } } } : {}),
    },
  };
}

export class Recorder {
  readonly entries: Entry[] = [];
  /** Every token and secret the script was given, replaced by `<token N>`/`<secret N>` when normalised. */
  readonly tokens: string[] = [];
  readonly secrets: string[] = [];
  constructor(readonly target: Target) {}

  /** Records an entry the script made up itself (a derived fact, not an answer). */
  note(step: string, body: unknown, status = 0): Entry {
    const entry = { step, status, body };
    this.entries.push(entry);
    return entry;
  }

  /** A call; `body` a string is sent as it is. Returns the parsed answer. */
  async call(
    step: string,
    method: string,
    path: string,
    token: string,
    body?: unknown,
    options: CallOptions = {},
  ): Promise<Entry> {
    const response = await fetch(`${this.target.keystoneUrl}${path}`, {
      method,
      headers: {
        ...(token ? { 'X-Auth-Token': token } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...options.headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const entry: Entry = {
      step,
      status: response.status,
      body: text && method !== 'HEAD' ? JSON.parse(text) : null,
    };
    if (options.keep) {
      entry.headers = Object.fromEntries(options.keep.map((h) => [h, response.headers.get(h)]));
      const subject = response.headers.get('x-subject-token');
      if (subject && !this.tokens.includes(subject)) this.tokens.push(subject);
    }
    this.entries.push(entry);
    return entry;
  }

  /** `POST /auth/tokens` with `body`; records the answer and its X-Subject-Token, returns the token ('' if none). */
  async authenticate(step: string, body: unknown, query = ''): Promise<string> {
    const entry = await this.call(step, 'POST', `/auth/tokens${query}`, '', body, {
      keep: ['x-subject-token'],
    });
    return entry.headers?.['x-subject-token'] ?? '';
  }

  /** A password token; records its status, project name and role names, returns the token. */
  async login(step: string, user: string, password: string, project?: string): Promise<string> {
    const response = await fetch(`${this.target.keystoneUrl}/auth/tokens?nocatalog`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(passwordAuth(user, password, project)),
    });
    const body = (await response.json()) as {
      token?: { project?: { name: string }; roles?: { name: string }[] };
      error?: unknown;
    };
    this.entries.push({
      step,
      status: response.status,
      body: body.token
        ? {
            project: body.token.project?.name ?? null,
            roles: body.token.roles?.map((r) => r.name).sort() ?? null,
          }
        : body,
    });
    const token = response.headers.get('x-subject-token') ?? '';
    if (token) this.tokens.push(token);
    return token;
  }

  /** Whether a token still validates (the status only). */
  async validates(step: string, admin: string, token: string): Promise<void> {
    const response = await fetch(`${this.target.keystoneUrl}/auth/tokens?nocatalog`, {
      headers: { 'X-Auth-Token': admin, 'X-Subject-Token': token },
    });
    await response.body?.cancel();
    this.entries.push({ step, status: response.status, body: null });
  }
}

/** The id of `body[key]` of an answer ('' when absent). */
export const id = (e: Entry, key: string): string =>
  ((e.body as Record<string, { id: string }> | null)?.[key]?.id ?? '') as string;

/** The id of the first item of the list `body[key]` of an answer ('' when absent). */
export const first = (e: Entry, key: string): string =>
  ((e.body as Record<string, { id: string }[]> | null)?.[key]?.[0]?.id ?? '') as string;

/** `2026-12-02T06:38:39` and what follows it: the date and time differ, the precision and zone must not. */
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/g;

/**
 * A recording made comparable. Replaced by placeholders numbered in order of first appearance: the
 * recorder's tokens (`<token N>`) and secrets (`<secret N>`), 32-hex ids (`<id N>`), the strings of
 * `audit_ids` (`<audit N>`); the base URL by `BASE`, a timestamp's date and time by `<time>` (its
 * fraction and zone are kept). 400 messages are cut to what precedes Keystone's JSON-schema dump.
 */
export function normalize(
  entries: Entry[],
  base: string,
  hidden: { tokens?: readonly string[]; secrets?: readonly string[] } = {},
): Entry[] {
  let text = JSON.stringify(entries);
  for (const [kind, values] of [
    ['token', hidden.tokens ?? []],
    ['secret', hidden.secrets ?? []],
  ] as const) {
    // Longest first: no value is replaced inside another.
    const sorted = [...new Set(values)].filter(Boolean).sort((a, b) => b.length - a.length);
    for (const value of sorted) text = text.replaceAll(value, `<${kind} ${values.indexOf(value) + 1}>`);
  }
  const ids = new Map<string, string>();
  text = text
    .replaceAll(base, 'BASE')
    .replace(/[0-9a-f]{32}/g, (hex) => {
      if (!ids.has(hex)) ids.set(hex, `<id${ids.size + 1}>`);
      return ids.get(hex) as string;
    })
    .replace(TIME, '<time>');
  const audits = new Map<string, string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      for (const [key, v] of Object.entries(record)) {
        if (key === 'audit_ids' && Array.isArray(v)) {
          record[key] = v.map((a) => {
            if (!audits.has(String(a))) audits.set(String(a), `<audit ${audits.size + 1}>`);
            return audits.get(String(a));
          });
        } else walk(v);
      }
    }
  };
  const parsed = JSON.parse(text) as Entry[];
  walk(parsed);
  return parsed.map((e) => {
    const error = (e.body as { error?: { message: string } } | null)?.error;
    if (error) error.message = error.message.split('\n\nFailed validating')[0] as string;
    return e;
  });
}
