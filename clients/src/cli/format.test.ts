import { describe, expect, it } from 'vitest';
import { formatResult } from './format.js';

describe('formatResult', () => {
  const show = {
    kind: 'show',
    fields: [
      ['name', 'prod'],
      ['members', ['web-01', 'web-02']],
      ['policy', null],
    ],
  } as const;

  it('renders Field/Value tables with multi-line cells and None', () => {
    expect(formatResult(show, 'table')).toBe(
      [
        '+---------+--------+',
        '| Field   | Value  |',
        '+---------+--------+',
        '| name    | prod   |',
        '| members | web-01 |',
        '|         | web-02 |',
        '| policy  | None   |',
        '+---------+--------+',
        '',
      ].join('\n'),
    );
  });

  it('renders json and value like the openstack client', () => {
    expect(JSON.parse(formatResult(show, 'json'))).toEqual({
      name: 'prod',
      members: ['web-01', 'web-02'],
      policy: null,
    });
    expect(formatResult(show, 'value')).toBe('prod\nweb-01\nweb-02\nNone\n');
    const list = { kind: 'list', columns: ['ID', 'Up'], rows: [['a', true]] } as const;
    expect(formatResult(list, 'value')).toBe('a True\n');
  });
});
