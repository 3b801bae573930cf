/**
 * The declarative option table: every option of a config file with its type, default, doc text and
 * environment variable. Tables are written with the `option.*` builders, which keep literal types
 * (`required: true`, enum choices) so the compiled config is precisely typed.
 */

/** The compiled config so far, untyped; given to `ignoreWhen`. Options that failed or are unset are absent. */
export type PartialConfigView = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;

interface CommonOptionFields {
  /** The doc text: what the option does and when to change it. Rendered into the generated reference. */
  readonly description: string;
  /** Start-up fails when a required option has no value and no default. */
  readonly required?: boolean;
  /**
   * Documentation only: when the option is required under a condition that the table's `validate` enforces,
   * e.g. `unless use_mock_storage = True`. Shown in the reference's Default column.
   */
  readonly requiredWhen?: string;
  /** A secret is never printed: errors omit its value and `redactConfig` shows `***`. */
  readonly secret?: boolean;
  /**
   * When this returns true, the option is ignored entirely: its value is neither read nor validated and it
   * compiles to undefined (e.g. array credentials while the mock storage driver is on). It sees the options
   * that have no `ignoreWhen` of their own.
   */
  readonly ignoreWhen?: (config: PartialConfigView) => boolean;
  /** Extra advice appended to the fix of an invalid value. */
  readonly fixHint?: string;
  /** Shows a value that is partly secret (a password inside a URL) in messages, logs and the reference. */
  readonly redact?: (value: string) => string;
  /**
   * Expand `$name`, `${name}` and `${section.name}` (and `$$` for a literal `$`) in values from the file and
   * environment. Defaults are always expanded. Defaults to true for paths only, so a `$` in a password or
   * token is never touched.
   */
  readonly interpolate?: boolean;
}

export interface StringOption extends CommonOptionFields {
  readonly type: 'string';
  readonly default?: string;
  readonly minLength?: number;
  readonly pattern?: RegExp;
  /** What `pattern` means, in words, for messages and the reference. */
  readonly patternHint?: string;
  /** Further validation: returns what is wrong with the value, or undefined when it is fine. */
  readonly check?: (value: string) => string | undefined;
}

export interface UrlOption extends CommonOptionFields {
  readonly type: 'url';
  readonly default?: string;
  /** Refuse `http://`: only `https://` URLs are accepted. */
  readonly httpsOnly?: boolean;
}

export interface IntOption extends CommonOptionFields {
  readonly type: 'int';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
  /** Unit for messages and the reference, e.g. `seconds`. */
  readonly unit?: string;
}

export interface BoolOption extends CommonOptionFields {
  readonly type: 'bool';
  readonly default?: boolean;
}

export interface EnumOption<C extends string = string> extends CommonOptionFields {
  readonly type: 'enum';
  readonly choices: readonly C[];
  readonly default?: C;
}

export interface PathOption extends CommonOptionFields {
  readonly type: 'path';
  /** May reference other options, e.g. `$state_path/mock_storage`. */
  readonly default?: string;
}

export interface ListOption extends CommonOptionFields {
  readonly type: 'list';
  readonly default?: readonly string[];
  readonly minItems?: number;
  /** Every item must match. */
  readonly pattern?: RegExp;
  readonly patternHint?: string;
  readonly unique?: boolean;
}

export type OptionSpec =
  | StringOption
  | UrlOption
  | IntOption
  | BoolOption
  | EnumOption
  | PathOption
  | ListOption;
export type OptionType = OptionSpec['type'];

type Builder<O extends OptionSpec> = <const I extends Omit<O, 'type'>>(
  input: I,
) => I & { readonly type: O['type'] };

const builder =
  <O extends OptionSpec>(type: O['type']): Builder<O> =>
  (input) =>
    Object.freeze({ ...input, type }) as never;

/** Builders for option specs: `option.int({ description, default: 300, min: 1, unit: 'seconds' })`. */
export const option = {
  string: builder<StringOption>('string'),
  url: builder<UrlOption>('url'),
  int: builder<IntOption>('int'),
  bool: builder<BoolOption>('bool'),
  enum: builder<EnumOption>('enum'),
  path: builder<PathOption>('path'),
  list: builder<ListOption>('list'),
};

/** The value an option compiles to. */
export type OptionValue<O> = O extends { readonly type: 'int' }
  ? number
  : O extends { readonly type: 'bool' }
    ? boolean
    : O extends { readonly type: 'enum'; readonly choices: readonly (infer C)[] }
      ? C
      : O extends { readonly type: 'list' }
        ? readonly string[]
        : string;

/** The value of an option in the compiled config: undefined only when it may legitimately be unset. */
export type ResolvedOption<O> = O extends { readonly ignoreWhen: (config: never) => boolean }
  ? OptionValue<O> | undefined
  : O extends { readonly required: true }
    ? OptionValue<O>
    : O extends { readonly default: unknown }
      ? OptionValue<O>
      : OptionValue<O> | undefined;

/** Options per section, e.g. `{ DEFAULT: { debug: option.bool(...) }, storage: { ... } }`. */
export type ConfigSections = Readonly<Record<string, Readonly<Record<string, OptionSpec>>>>;

/** The compiled, frozen config of a table: one object per section. */
export type ConfigOf<S extends ConfigSections> = {
  readonly [Section in keyof S]: { readonly [Name in keyof S[Section]]: ResolvedOption<S[Section][Name]> };
};

/** The config as a `validate` hook sees it: any option that failed to compile or is unset is undefined. */
export type PartialConfigOf<S extends ConfigSections> = {
  readonly [Section in keyof S]: {
    readonly [Name in keyof S[Section]]: OptionValue<S[Section][Name]> | undefined;
  };
};

/** A problem found by a table's cross-option `validate` hook. */
export interface ConfigRuleProblem {
  readonly section?: string;
  readonly option?: string;
  /** What is wrong, naming the options involved. Never include a secret's value. */
  readonly message: string;
  /** What to change to fix it. */
  readonly fix: string;
}

/** Facts about the raw input that a `validate` hook may need besides the values. */
export interface ValidateContext {
  /** Whether the option was given a value in the file or the environment (valid or not). */
  isSet(section: string, name: string): boolean;
}

/** A whole config file: its sections and options, how the environment overrides them, and its rules. */
export interface ConfigTable<S extends ConfigSections = ConfigSections> {
  /** File name used in messages and the reference, e.g. `protector.conf`. */
  readonly fileName: string;
  /** Environment prefix: `PROTECTOR` gives `PROTECTOR_STORAGE__PRIMARY_ARRAY_URL`. */
  readonly envPrefix: string;
  readonly sections: S;
  /** Doc text shown above each section's table in the reference. */
  readonly sectionDescriptions?: { readonly [Section in keyof S]?: string };
  /** Markdown placed under the reference's title. */
  readonly intro?: string;
  /** Where the table lives, named in the reference's "generated from" line. */
  readonly generatedFrom?: string;
  /**
   * Cross-option rules; runs after every option is compiled, also when some failed, so all problems are
   * reported at once. (Method syntax on purpose: a typed table must still be a `ConfigTable`.)
   */
  validate?(config: PartialConfigOf<S>, context: ValidateContext): readonly ConfigRuleProblem[];
}

/** Declares a table; an identity function that infers the precise section and option types. */
export const defineConfigTable = <const S extends ConfigSections>(table: ConfigTable<S>): ConfigTable<S> =>
  table;

/** The environment variable that overrides an option: `<PREFIX>_<SECTION>__<NAME>`, upper-case. */
export const envVarName = (table: Pick<ConfigTable, 'envPrefix'>, section: string, name: string): string =>
  `${table.envPrefix}_${section}__${name}`.toUpperCase();
