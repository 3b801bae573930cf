import { describe, expect, it } from 'vitest';
import { defineConfigTable, option } from './options.js';
import { renderConfigReference } from './reference.js';

describe('renderConfigReference', () => {
  it('renders one table per section with type, default, env var and description', () => {
    const table = defineConfigTable({
      fileName: 'x.conf',
      envPrefix: 'X',
      generatedFrom: 'x/options.ts',
      intro: 'Intro text.',
      sectionDescriptions: { main: 'The main section.' },
      sections: {
        main: {
          name: option.string({ description: 'Name | with a pipe\nand a newline.', required: true }),
          port: option.int({ description: 'Port.', default: 80, min: 1, max: 65535 }),
          wait: option.int({ description: 'Wait.', default: 5, min: 0, unit: 'seconds' }),
          on: option.bool({ description: 'On.', default: true }),
          key: option.string({ description: 'Key.', secret: true, default: 'do-not-print' }),
          mode: option.enum({ description: 'Mode.', choices: ['a', 'b'], default: 'a' }),
          dir: option.path({ description: 'Dir.', default: '$base/d' }),
          base: option.path({ description: 'Base.', default: '/b' }),
          url: option.url({ description: 'URL.', httpsOnly: true, requiredWhen: 'unless `lab = True`' }),
          items: option.list({ description: 'Items.', default: ['a', 'b'] }),
        },
      },
    });
    expect(renderConfigReference(table)).toBe(
      [
        '# x.conf reference',
        '',
        'Generated from `x/options.ts`; do not edit by hand.',
        '',
        'Intro text.',
        '',
        '## [main]',
        '',
        'The main section.',
        '',
        '| Option | Type | Default | Environment variable | Description |',
        '|---|---|---|---|---|',
        '| `name` | string | **required** | `X_MAIN__NAME` | Name \\| with a pipe and a newline. |',
        '| `port` | integer (1-65535) | `80` | `X_MAIN__PORT` | Port. |',
        '| `wait` | integer (seconds, >= 0) | `5` | `X_MAIN__WAIT` | Wait. |',
        '| `on` | boolean | `True` | `X_MAIN__ON` | On. |',
        '| `key` | string, secret | `***` | `X_MAIN__KEY` | Key. |',
        '| `mode` | one of `a`, `b` | `a` | `X_MAIN__MODE` | Mode. |',
        '| `dir` | path | `$base/d` | `X_MAIN__DIR` | Dir. |',
        '| `base` | path | `/b` | `X_MAIN__BASE` | Base. |',
        '| `url` | URL (HTTPS only) | **required** unless `lab = True` | `X_MAIN__URL` | URL. |',
        '| `items` | list (comma-separated) | `a,b` | `X_MAIN__ITEMS` | Items. |',
        '',
      ].join('\n'),
    );
  });
});
