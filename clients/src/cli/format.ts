/** Output of the CLI in the openstack client's formats: table (`+----+` borders), json, value. */

/** One cell: text, number, flag, nothing (printed `None`), or several lines. */
export type Cell = string | number | boolean | null | undefined | readonly string[];

/** A Field/Value result (`show`, `create`). */
export interface ShowResult {
  readonly kind: 'show';
  readonly fields: readonly (readonly [field: string, value: Cell])[];
}

/** A list result: one row per item. */
export interface ListResult {
  readonly kind: 'list';
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
}

export type CommandResult = ShowResult | ListResult;

export const OUTPUT_FORMATS = ['table', 'json', 'value'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const cellText = (cell: Cell): string => {
  if (cell === null || cell === undefined) return 'None';
  if (typeof cell === 'boolean') return cell ? 'True' : 'False';
  if (typeof cell === 'number') return String(cell);
  if (typeof cell === 'string') return cell;
  return cell.join('\n');
};

const cellJson = (cell: Cell): unknown => (cell === undefined ? null : cell);

/** Renders rows as an openstack-style table; multi-line cells span several text lines. */
export function renderTable(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((row) => columns.map((_, index) => cellText(row[index]).split('\n')));
  const widths = columns.map((column, index) =>
    Math.max(
      column.length,
      ...cells.map((row) => Math.max(...(row[index] ?? ['']).map((line) => line.length))),
    ),
  );
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const line = (texts: readonly string[]) =>
    `| ${texts.map((text, index) => text.padEnd(widths[index] ?? 0)).join(' | ')} |`;
  const out = [border, line(columns), border];
  for (const row of cells) {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    for (let i = 0; i < height; i += 1) out.push(line(row.map((lines) => lines[i] ?? '')));
  }
  if (rows.length > 0) out.push(border);
  return out.join('\n');
}

/** Renders a result in the chosen format (always ending with a newline). */
export function formatResult(result: CommandResult, format: OutputFormat): string {
  switch (format) {
    case 'table':
      return result.kind === 'show'
        ? `${renderTable(['Field', 'Value'], result.fields)}\n`
        : `${renderTable(result.columns, result.rows)}\n`;
    case 'json': {
      const value =
        result.kind === 'show'
          ? Object.fromEntries(result.fields.map(([field, cell]) => [field, cellJson(cell)]))
          : result.rows.map((row) =>
              Object.fromEntries(result.columns.map((column, i) => [column, cellJson(row[i])])),
            );
      return `${JSON.stringify(value, null, 2)}\n`;
    }
    case 'value': {
      const lines =
        result.kind === 'show'
          ? result.fields.map(([, cell]) => cellText(cell))
          : result.rows.map((row) => row.map((cell) => cellText(cell).replaceAll('\n', ',')).join(' '));
      return lines.length > 0 ? `${lines.join('\n')}\n` : '';
    }
    default: {
      const unreachable: never = format;
      throw new Error(`Unknown output format ${String(unreachable)}`);
    }
  }
}

/** Enum values as the product prints them (`ACTIVE` -> `active`); null stays null. */
export const lower = (value: string | null | undefined): string | null =>
  value == null ? null : value.toLowerCase();
