/**
 * Keystone's request-body schemas for projects, users, token requests and application credentials
 * (`keystone/resource/schema.py`, `keystone/identity/schema.py`, `keystone/auth/schema.py`,
 * `keystone/application_credential/schema.py`) and the messages its JSON-schema validation answers 400 with:
 * the first line of jsonschema's error, Python reprs and all (`Invalid input for field 'name':
 * 123 is not of type 'string'`). Keystone appends the failing schema and instance after a blank
 * line; that dump is not reproduced.
 */
import { ApiError, isRecord } from './http.js';

type JsonType = 'string' | 'boolean' | 'array' | 'object' | 'null';

/** One property's schema, its keywords checked in Keystone's order. */
export interface PropertySchema {
  type: JsonType[];
  minLength?: number;
  maxLength?: number;
  /** The pattern as Keystone writes it, searched (not anchored) like Python's `re.search`. */
  pattern?: string;
  items?: PropertySchema;
  maxItems?: number;
  uniqueItems?: boolean;
  /** An object's properties, checked in this order when present, then `required`. */
  properties?: [string, PropertySchema][];
  required?: string[];
}

/** A request body's schema: properties in Keystone's order, then `required` or `minProperties`. */
export interface BodySchema {
  properties: [string, PropertySchema][];
  required?: string[];
  minProperties?: number;
}

const name = (maxLength: number): PropertySchema => ({
  type: ['string'],
  minLength: 1,
  maxLength,
  pattern: '[\\S]+',
});
const idString = (nullable: boolean): PropertySchema => ({
  type: nullable ? ['string', 'null'] : ['string'],
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-zA-Z0-9-]+$',
});
const boolean: PropertySchema = { type: ['boolean'] };
const description: PropertySchema = { type: ['string', 'null'] };
const tags: PropertySchema = {
  type: ['array'],
  items: { type: ['string'], minLength: 1, maxLength: 255, pattern: '^[^,/]*$' },
  maxItems: 80,
  uniqueItems: true,
};

const PROJECT_PROPERTIES: [string, PropertySchema][] = [
  ['description', description],
  ['domain_id', idString(true)],
  ['enabled', boolean],
  ['is_domain', boolean],
  ['parent_id', idString(true)],
  ['name', name(64)],
  ['tags', tags],
  ['options', { type: ['object'] }],
];

const USER_PROPERTIES: [string, PropertySchema][] = [
  ['default_project_id', idString(true)],
  ['description', description],
  ['domain_id', idString(false)],
  ['enabled', boolean],
  ['federated', { type: ['array'] }],
  ['name', name(255)],
  ['password', { type: ['string', 'null'] }],
  ['options', { type: ['object'] }],
];

export const PROJECT_CREATE: BodySchema = { properties: PROJECT_PROPERTIES, required: ['name'] };
export const PROJECT_UPDATE: BodySchema = { properties: PROJECT_PROPERTIES, minProperties: 1 };
export const USER_CREATE: BodySchema = { properties: USER_PROPERTIES, required: ['name'] };
export const USER_UPDATE: BodySchema = { properties: USER_PROPERTIES, minProperties: 1 };

/** A JSON value as Python's `repr` prints it after `json.loads`, as jsonschema's messages show it. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = '';
    for (const ch of value) {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === '\\') out += '\\\\';
      else if (ch === quote) out += `\\${quote}`;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
    return `${quote}${out}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (isRecord(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** Python's `re.search`: like JS, except that a final `$` also matches before a trailing newline. */
function pythonSearch(pattern: string, value: string): boolean {
  const re = new RegExp(pattern, 'u');
  return re.test(value) || (pattern.endsWith('$') && value.endsWith('\n') && re.test(value.slice(0, -1)));
}

function typeOf(value: unknown): JsonType | 'number' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
    return typeof value as JsonType;
  return 'object';
}

/** The first error of one value against its schema, without the field prefix; undefined when valid. */
function checkValue(
  value: unknown,
  schema: PropertySchema,
  path: string,
): { path: string; message: string } | undefined {
  const fail = (message: string) => ({ path, message });
  const actual = typeOf(value);
  if (!schema.type.includes(actual as JsonType)) {
    return fail(`${pyRepr(value)} is not of type ${schema.type.map((t) => `'${t}'`).join(', ')}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength)
      return fail(`${pyRepr(value)} is too short`);
    if (schema.maxLength !== undefined && length > schema.maxLength)
      return fail(`${pyRepr(value)} is too long`);
    if (schema.pattern !== undefined && !pythonSearch(schema.pattern, value)) {
      return fail(`${pyRepr(value)} does not match ${pyRepr(schema.pattern)}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.items) {
      for (const [i, item] of value.entries()) {
        const error = checkValue(item, schema.items, `${path}/${i}`);
        if (error) return error;
      }
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return fail(`${pyRepr(value)} is too long`);
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      return fail(`${pyRepr(value)} has non-unique elements`);
    }
  }
  if (isRecord(value)) {
    for (const [property, propertySchema] of schema.properties ?? []) {
      if (!(property in value)) continue;
      const error = checkValue(value[property], propertySchema, path ? `${path}/${property}` : property);
      if (error) return error;
    }
    for (const property of schema.required ?? []) {
      if (!(property in value)) return fail(`${pyRepr(property)} is a required property`);
    }
  }
  return undefined;
}

/**
 * Validates a whole value against its schema (`validation.lazy_validate`), failing with Keystone's
 * 400: `Invalid input for field '<path>': <error>`, or the bare error when it is the value's own.
 */
export function validateValue(value: unknown, schema: PropertySchema): void {
  const error = checkValue(value, schema, '');
  if (error)
    throw new ApiError(
      400,
      error.path ? `Invalid input for field '${error.path}': ${error.message}` : error.message,
    );
}

/**
 * Validates a request body's member object (`body.project`, `body.user`; absent counts as `{}`,
 * as Keystone reads it) and returns it, or fails with Keystone's 400 for the first error.
 */
export function validateBody(body: unknown, key: string, schema: BodySchema): Record<string, unknown> {
  const instance = isRecord(body) && key in body ? body[key] : {};
  if (!isRecord(instance)) throw new ApiError(400, `${pyRepr(instance)} is not of type 'object'`);
  for (const [property, propertySchema] of schema.properties) {
    if (!(property in instance)) continue;
    const error = checkValue(instance[property], propertySchema, property);
    if (error) throw new ApiError(400, `Invalid input for field '${error.path}': ${error.message}`);
  }
  for (const property of schema.required ?? []) {
    if (!(property in instance)) throw new ApiError(400, `${pyRepr(property)} is a required property`);
  }
  if (schema.minProperties !== undefined && Object.keys(instance).length < schema.minProperties) {
    throw new ApiError(400, `${pyRepr(instance)} does not have enough properties`);
  }
  return instance;
}

const anyString: PropertySchema = { type: ['string'] };
/** `{id, name}` of a domain, as a token request names one. */
const domainRef: PropertySchema = {
  type: ['object'],
  properties: [
    ['id', anyString],
    ['name', anyString],
  ],
};

/** `keystone/auth/schema.py` `token_issue`: the `auth` member of `POST /v3/auth/tokens`. */
export const TOKEN_ISSUE: PropertySchema = {
  type: ['object'],
  properties: [
    [
      'identity',
      {
        type: ['object'],
        properties: [
          ['methods', { type: ['array'], items: anyString }],
          [
            'password',
            {
              type: ['object'],
              properties: [
                [
                  'user',
                  {
                    type: ['object'],
                    properties: [
                      ['id', anyString],
                      ['name', anyString],
                      ['password', anyString],
                      ['domain', domainRef],
                    ],
                  },
                ],
              ],
            },
          ],
          ['token', { type: ['object'], properties: [['id', anyString]], required: ['id'] }],
        ],
        required: ['methods'],
      },
    ],
    [
      'scope',
      {
        type: ['object', 'string'],
        properties: [
          [
            'project',
            {
              type: ['object'],
              properties: [
                ['name', anyString],
                ['id', anyString],
                ['domain', domainRef],
              ],
            },
          ],
          ['domain', domainRef],
          ['OS-TRUST:trust', { type: ['object'], properties: [['id', anyString]] }],
          ['system', { type: ['object'], properties: [['all', boolean]] }],
        ],
      },
    ],
  ],
  required: ['identity'],
};

/** `keystone/application_credential/schema.py` `application_credential_create` (access rules: not simulated). */
export const APP_CREDENTIAL_CREATE: PropertySchema = {
  type: ['object'],
  properties: [
    ['name', name(255)],
    ['description', description],
    ['secret', { type: ['null', 'string'] }],
    ['expires_at', { type: ['null', 'string'] }],
    [
      'roles',
      {
        type: ['array'],
        items: {
          type: ['object'],
          properties: [
            ['id', idString(false)],
            ['name', name(255)],
          ],
        },
      },
    ],
    ['unrestricted', boolean],
    ['access_rules', { type: ['array'] }],
  ],
  required: ['name'],
};
