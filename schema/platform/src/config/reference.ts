/** Renders an option table as the Markdown configuration reference: one table per section. */
import { describeExpected, formatValue } from './compile.js';
import { type ConfigTable, envVarName, type OptionSpec } from './options.js';

const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;

function typeCell(spec: OptionSpec): string {
  const secret = spec.secret ? ', secret' : '';
  switch (spec.type) {
    case 'string':
      return `string${spec.patternHint ? ` (${spec.patternHint})` : ''}${secret}`;
    case 'url':
      return `URL${spec.httpsOnly ? ' (HTTPS only)' : ''}${secret}`;
    case 'int': {
      const range =
        spec.min !== undefined && spec.max !== undefined
          ? `, ${spec.min}-${spec.max}`
          : spec.min !== undefined
            ? `, >= ${spec.min}`
            : spec.max !== undefined
              ? `, <= ${spec.max}`
              : '';
      return `integer${spec.unit ? ` (${spec.unit}${range})` : range ? ` (${range.slice(2)})` : ''}${secret}`;
    }
    case 'bool':
      return `boolean${secret}`;
    case 'enum':
      return `one of ${spec.choices.map(code).join(', ')}${secret}`;
    case 'path':
      return `path${secret}`;
    case 'list':
      return `list (comma-separated)${secret}`;
    default:
      return describeExpected(spec);
  }
}

function defaultCell(spec: OptionSpec): string {
  if (spec.required) return '**required**';
  if (spec.requiredWhen) return `**required** ${spec.requiredWhen}`;
  if (spec.default === undefined) return 'unset';
  if (spec.secret) return '`***`';
  const text = formatValue(spec.default);
  return code(typeof spec.default === 'string' && spec.redact ? spec.redact(text) : text);
}

/**
 * The configuration reference in Markdown: for each section its description and a table of
 * option, type, default, environment variable and description. Defaults that reference another
 * option are shown unexpanded (`$state_path/mock_storage`).
 */
export function renderConfigReference(table: ConfigTable): string {
  const out = [`# ${table.fileName} reference`, ''];
  if (table.generatedFrom) {
    out.push(`Generated from \`${table.generatedFrom}\`; do not edit by hand.`, '');
  }
  if (table.intro) out.push(table.intro.trim(), '');
  const descriptions = table.sectionDescriptions as Readonly<Record<string, string | undefined>> | undefined;
  for (const [section, options] of Object.entries(table.sections)) {
    out.push(`## [${section}]`, '');
    const description = descriptions?.[section];
    if (description) out.push(description.trim(), '');
    out.push('| Option | Type | Default | Environment variable | Description |', '|---|---|---|---|---|');
    for (const [name, spec] of Object.entries(options)) {
      out.push(
        `| ${code(name)} | ${cell(typeCell(spec))} | ${cell(defaultCell(spec))} | ${code(envVarName(table, section, name))} | ${cell(spec.description)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
