import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/** A `DateTime` value as it crosses the API: an RFC 3339 / ISO-8601 string, normalized to UTC (`...Z`). */
export type DateTimeString = string;

/** RFC 3339 date-time with a mandatory offset: what `DateTime` accepts on input. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Guard: is `value` an RFC 3339 date-time string with an offset that denotes a real instant? */
export const isDateTimeString = (value: unknown): value is DateTimeString =>
  typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));

/**
 * Converts a resolver's value (`Date`, ISO string, or epoch milliseconds as FlashArray reports times)
 * to the wire form; throws on anything that is not a valid instant, so a bad value fails loudly.
 */
export function toDateTimeString(value: unknown): DateTimeString {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('DateTime cannot represent an invalid Date');
    return value.toISOString();
  }
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value).toISOString();
  if (isDateTimeString(value)) return new Date(value).toISOString();
  throw new TypeError(`DateTime cannot represent ${JSON.stringify(value)}: expected an ISO-8601 date-time`);
}

const parseInput = (value: unknown): DateTimeString => {
  if (!isDateTimeString(value)) {
    throw new GraphQLError(
      // The value is not repeated: it may be a secret sent in the wrong place.
      'DateTime expects an ISO-8601 date-time with an offset such as "2025-01-31T12:00:00Z"',
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  }
  return new Date(value).toISOString();
};

/**
 * The `DateTime` scalar implementation. Resolvers may return `Date`, ISO strings or epoch ms;
 * arguments reach resolvers as normalized ISO strings (UTC), never as `Date`, so values stay JSON-safe.
 */
export const DateTimeScalar = new GraphQLScalarType<DateTimeString, DateTimeString>({
  name: 'DateTime',
  description: 'An instant as an RFC 3339 / ISO-8601 date-time string in UTC, e.g. 2025-01-31T12:00:00.000Z.',
  specifiedByURL: 'https://scalars.graphql.org/andimarek/date-time',
  serialize: (value) => {
    try {
      return toDateTimeString(value);
    } catch (err) {
      throw new GraphQLError((err as Error).message);
    }
  },
  parseValue: parseInput,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError(`DateTime expects a string literal, got ${ast.kind}`, {
        nodes: ast,
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return parseInput(ast.value);
  },
});
