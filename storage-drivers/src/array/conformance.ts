/**
 * Checks an answer against the REST 2.26 description in `rest-2.26.json` (written from the models of
 * Pure's official Python client): the envelope of its route, and every item's fields and types. A
 * field the description does not list for its type is a problem: that is how fa-sim is kept from
 * inventing fields a real array never returns (and the driver from reading them).
 */
import { readFileSync } from 'node:fs';

type Fields = Record<string, string>;

interface RouteSpec {
  readonly list?: string;
  readonly items?: string;
  readonly body?: string;
  readonly empty?: boolean;
}

interface Description {
  readonly version: string;
  readonly list_envelope: Fields;
  readonly error_envelope: Fields;
  readonly types: Record<string, Fields>;
  readonly routes: Record<string, RouteSpec>;
}

/** The description, read once from the package root (the same path from `src/` and `dist/`). */
export const REST_2_26: Description = JSON.parse(
  readFileSync(new URL('../../rest-2.26.json', import.meta.url), 'utf8'),
) as Description;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Problems of `value` against type expression `type` at `path` (empty when it conforms). */
function checkValue(d: Description, type: string, value: unknown, path: string): string[] {
  if (type.endsWith('?')) return value === null ? [] : checkValue(d, type.slice(0, -1), value, path);
  if (value === null || value === undefined) return [`${path}: null where ${type} is required`];
  if (type.startsWith('[') && type.endsWith(']')) {
    if (!Array.isArray(value)) return [`${path}: expected an array of ${type.slice(1, -1)}`];
    return value.flatMap((v, i) => checkValue(d, type.slice(1, -1), v, `${path}[${i}]`));
  }
  if (type.startsWith('string:')) {
    const allowed = type.slice('string:'.length).split('|');
    return typeof value === 'string' && allowed.includes(value)
      ? []
      : [`${path}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`];
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${path}: expected an integer, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'object':
      return isObject(value) ? [] : [`${path}: expected an object`];
  }
  const fields = d.types[type];
  if (!fields) return [`${path}: the description has no type '${type}'`];
  return checkFields(d, type, fields, value, path);
}

function checkFields(d: Description, name: string, fields: Fields, value: unknown, path: string): string[] {
  if (!isObject(value)) return [`${path}: expected ${name}, an object`];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const type = fields[key];
    if (type === undefined) problems.push(`${path}.${key}: not a field of ${name} in REST ${d.version}`);
    else problems.push(...checkValue(d, type, v, `${path}.${key}`));
  }
  return problems;
}

/**
 * Problems of one answer to `METHOD /path` (the path below `/api/2.x`, or `/api_version`): an error
 * status must carry the error envelope, a 2xx the route's shape. An unknown route is a problem too.
 */
export function conformanceProblems(
  method: string,
  path: string,
  status: number,
  body: unknown,
  d: Description = REST_2_26,
): string[] {
  const where = `${method} ${path} (${status})`;
  if (status >= 400) return checkFields(d, 'error envelope', d.error_envelope, body, where);
  const route = d.routes[`${method} ${path}`];
  if (!route) return [`${where}: not a REST ${d.version} route this description covers`];
  if (route.empty) {
    return isObject(body) && Object.keys(body).length === 0 ? [] : [`${where}: expected an empty body {}`];
  }
  if (route.body) return checkValue(d, route.body, body, where);
  if (route.items) {
    if (!isObject(body) || Object.keys(body).some((k) => k !== 'items'))
      return [`${where}: expected exactly {items}`];
    return checkValue(d, `[${route.items}]`, body.items, `${where}.items`);
  }
  const problems = checkFields(d, 'list envelope', d.list_envelope, body, where);
  if (!isObject(body) || !Array.isArray(body.items)) return [...problems, `${where}: no items list`];
  return [...problems, ...checkValue(d, `[${route.list}]`, body.items, `${where}.items`)];
}
