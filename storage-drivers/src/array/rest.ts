/**
 * How the model reads REST requests and fails them as a FlashArray does: the error with its HTTP
 * status and context, comma-separated and required query parameters, and the list envelope.
 */
import { type Item, type ListEnvelope, listEnvelope } from './query.js';

/** A request's query parameters. */
export type Query = Readonly<Record<string, string | undefined>>;
/** A request's JSON body (an object, `{}` when absent). */
export type Body = Record<string, unknown>;

/** An array-level error: FlashArray's HTTP status and message. */
export class ArrayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly context: string,
  ) {
    super(message);
  }
}

/** A 400 answer. */
export const bad = (message: string, context: string) => new ArrayError(400, message, context);

/** The comma-separated names of a query parameter (none when absent). */
export const names = (q: string | undefined): string[] => (q ? q.split(',').filter(Boolean) : []);

/** The comma-separated names of a query parameter the request cannot do without. */
export function required(q: Query, param: string): string[] {
  const list = names(q[param]);
  if (!list.length) throw bad(`Missing required query parameter ${param}.`, param);
  return list;
}

/** 400 for the first of `wanted` that is not in `existing`: `<kind> 'NAME' does not exist.` */
export function requireExisting(kind: string, wanted: readonly string[], existing: readonly string[]): void {
  const missing = wanted.find((n) => !existing.includes(n));
  if (missing !== undefined) throw bad(`${kind} '${missing}' does not exist.`, missing);
}

/** A GET answer: `filter`, `sort`, `limit` and `continuation_token` applied; a bad one is a 400. */
export function listOf(items: Item[], q: Query): ListEnvelope {
  try {
    return listEnvelope(items, q);
  } catch (err) {
    throw bad((err as Error).message, 'query');
  }
}
