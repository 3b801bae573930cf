/** How CLI commands are declared, and the checks shared by their options. */
import { urlProblem } from '@protector/schema';
import type { ProtectorClient } from '../sdk/client.js';
import type { CommandResult, OutputFormat } from './format.js';

/** Bad input: printed with the command's usage hint; exit code 2; nothing was sent. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure reported by the server or by an operation: `Error (CODE): message`, exit code 1. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One option of a command (node:util parseArgs option, plus help text). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly description: string;
  /** Placeholder in the help, e.g. `<url>`. */
  readonly value?: string;
  /** The value is a secret: never echoed. */
  readonly secret?: boolean;
}

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly optional?: boolean;
  /** The last positional only: it takes every remaining argument (`CommandContext.repeated`). */
  readonly repeated?: boolean;
}

export type OptionValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** What a command receives. */
export interface CommandContext {
  /** The SDK client (created on first use, after every input check passed). */
  client(): ProtectorClient;
  readonly format: OutputFormat;
  readonly values: OptionValues;
  readonly args: Readonly<Record<string, string | undefined>>;
  /** Every value of the command's repeated positional (its first is also in `args`). */
  readonly repeated: readonly string[];
  /** Prints a result to stdout in the chosen format. */
  print(result: CommandResult): void;
  /** A line on stderr (progress, hints, warnings). */
  note(line: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CommandSpec {
  /** Words of the command, e.g. `['protection-group', 'create']`. */
  readonly path: readonly string[];
  /** Other word sequences for the same command, e.g. `['protection-group', 'policy-create']`. */
  readonly aliases?: readonly (readonly string[])[];
  readonly summary: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly examples?: readonly string[];
  /** Runs the command; returns the exit code (default 0). */
  run(context: CommandContext): Promise<number | undefined>;
}

/** The value of a string option, or undefined. */
export const stringOption = (values: OptionValues, name: string): string | undefined => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

/** The value of a required string option. */
export function requireOption(values: OptionValues, name: string, example: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value.length === 0) {
    throw new UsageError(`Option --${name} is required; add e.g. --${name} ${example}`);
  }
  return value;
}

/** A whole number in [min, max] from an option. */
export function integerOption(
  values: OptionValues,
  name: string,
  range: { min: number; max?: number; unit: string },
): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < range.min || value > max) {
    const bound = range.max === undefined ? `at least ${range.min}` : `from ${range.min} to ${range.max}`;
    throw new UsageError(`Option --${name} must be a whole number of ${range.unit}, ${bound}; got '${raw}'`);
  }
  return value;
}

/** One of a fixed set of words (case-insensitive), from an option. */
export function choiceOption<const C extends string>(
  values: OptionValues,
  name: string,
  choices: readonly C[],
): C | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const match = choices.find((choice) => choice === raw.toLowerCase());
  if (!match) throw new UsageError(`Option --${name} must be one of ${choices.join(', ')}; got '${raw}'`);
  return match;
}

/** An http(s) URL from an option. */
export function urlOption(
  values: OptionValues,
  name: string,
  rule: (url: string) => string | null = urlProblem,
): string | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const problem = rule(raw);
  if (problem)
    throw new UsageError(`Option --${name} '${raw}' ${problem}; e.g. https://flasharray-a.example.com`);
  return raw;
}
