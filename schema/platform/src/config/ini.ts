/**
 * A small INI parser with oslo.config's rules: `[section]` headers, `key = value` (or `key: value`)
 * lines, whole-line `#` and `;` comments, blank lines. A value wrapped in matching quotes loses them;
 * `#` inside a value is kept (oslo.config has no inline comments). Leading whitespace is ignored and
 * continuation lines are not supported.
 */

/** One `key = value` line. */
export interface IniEntry {
  readonly value: string;
  /** 1-based line number in the source. */
  readonly line: number;
}

/** One section; repeated headers of the same name are merged, as oslo.config does. */
export interface IniSection {
  /** Line of the first header of this section. */
  readonly line: number;
  readonly entries: ReadonlyMap<string, IniEntry>;
}

/** A problem found while reading the file, with its 1-based line. */
export interface IniSyntaxProblem {
  readonly line: number;
  readonly message: string;
  readonly fix: string;
}

export interface ParsedIni {
  readonly sections: ReadonlyMap<string, IniSection>;
  /** Every syntax problem of the file, in line order; empty when the file is well formed. */
  readonly problems: readonly IniSyntaxProblem[];
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Parses INI text; never throws, so every syntax problem of a file is reported at once. */
export function parseIni(text: string): ParsedIni {
  const sections = new Map<string, { line: number; entries: Map<string, IniEntry> }>();
  const problems: IniSyntaxProblem[] = [];
  let current: { name: string; entries: Map<string, IniEntry> } | undefined;

  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;

    if (trimmed.startsWith('[')) {
      const match = /^\[([^\]]*)\]$/.exec(trimmed);
      const name = match?.[1]?.trim();
      if (match === null || name === undefined) {
        problems.push({
          line,
          message: `Malformed section header '${trimmed}'.`,
          fix: 'Write a section header as [name] on a line of its own, e.g. [storage].',
        });
        current = undefined;
        return;
      }
      if (name === '') {
        problems.push({ line, message: 'Empty section name [].', fix: 'Name the section, e.g. [DEFAULT].' });
        current = undefined;
        return;
      }
      let section = sections.get(name);
      if (section === undefined) {
        section = { line, entries: new Map() };
        sections.set(name, section);
      }
      current = { name, entries: section.entries };
      return;
    }

    const separator = trimmed.search(/[=:]/);
    if (separator <= 0) {
      problems.push({
        line,
        message:
          separator === 0
            ? `Line '${trimmed}' has no option name.`
            : `Line '${trimmed}' is not 'name = value'.`,
        fix: 'Write options as name = value, or start the line with # to make it a comment.',
      });
      return;
    }
    const key = trimmed.slice(0, separator).trim();
    let value = trimmed.slice(separator + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
      value = value.slice(1, -1);
    }
    if (!KEY_PATTERN.test(key)) {
      problems.push({
        line,
        message: `'${key}' is not a valid option name.`,
        fix: 'Option names use letters, digits and underscores, e.g. primary_array_url.',
      });
      return;
    }
    if (current === undefined) {
      problems.push({
        line,
        message: `Option '${key}' appears before any [section] header.`,
        fix: 'Put it under the section it belongs to, e.g. [DEFAULT] above it.',
      });
      return;
    }
    const previous = current.entries.get(key);
    if (previous !== undefined) {
      // oslo.config silently keeps the last value; a repeated key is almost always a mistake, so say so.
      problems.push({
        line,
        message: `Option '${key}' in [${current.name}] is set twice (lines ${previous.line} and ${line}).`,
        fix: 'Keep one of the two lines.',
      });
      return;
    }
    current.entries.set(key, { value, line });
  });

  return { sections, problems };
}
