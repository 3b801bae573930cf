/**
 * Input checks shared by the persistence modules, and the errors they throw for bad input, a missing
 * Protection Group and a unique-constraint race.
 */
import { flashArrayNameProblem, ProtectorError, urlProblem } from '@protector/schema';

export const badInput = (field: string, problem: string): ProtectorError =>
  new ProtectorError('BAD_USER_INPUT', `${field} ${problem}`, { field });

export const pgNotFound = (id: string): ProtectorError =>
  new ProtectorError('NOT_FOUND', `Protection Group ${id} does not exist on this site`, { id });

export function requireText(field: string, value: unknown, maxLength: number): void {
  if (typeof value !== 'string' || value.trim() === '') throw badInput(field, 'must be a non-empty string');
  if (value.length > maxLength)
    throw badInput(field, `must be at most ${maxLength} characters, got ${value.length}`);
}

export function requireCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw badInput(field, `must be a whole number >= 0, got ${value}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function requireUuid(field: string, value: string): void {
  if (typeof value !== 'string' || !UUID.test(value)) throw badInput(field, `must be a UUID, got '${value}'`);
}

export function requireUrl(
  field: string,
  value: string,
  rule: (url: string) => string | null = urlProblem,
): void {
  const problem = rule(value);
  if (problem) throw badInput(field, `'${value}' ${problem}`);
}

export function oneOf<T extends string>(
  field: string,
  value: string,
  allowed: readonly T[],
): asserts value is T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw badInput(field, `must be one of ${allowed.join(', ')}, got '${value}'`);
  }
}

export function requireFlashArrayName(field: string, value: string): void {
  const problem = flashArrayNameProblem(value);
  if (problem) throw new ProtectorError('INVALID_NAME', `${field}: ${problem}`, { field });
}

/** Unique-constraint violation on SQLite (`SQLITE_CONSTRAINT_*`) or PostgreSQL (23505). */
export function isUniqueViolation(err: unknown): boolean {
  const driverError = (err as { driverError?: { code?: unknown } } | null)?.driverError;
  const code = driverError?.code ?? (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
