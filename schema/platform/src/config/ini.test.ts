import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';

describe('parseIni', () => {
  it('reads sections, both separators, comments, blank lines and quoted values', () => {
    const parsed = parseIni(
      [
        '# a comment',
        '; another',
        '',
        '[DEFAULT]',
        'debug = True',
        '  state_path: /var/lib/protector  ',
        '[storage]',
        'primary_array_url = https://fa-a.example.com:8443/api',
        "secondary_array_api_token = 'T-yy#yy'",
        'empty =',
      ].join('\n'),
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.sections.get('DEFAULT')?.entries.get('debug')).toEqual({ value: 'True', line: 5 });
    expect(parsed.sections.get('DEFAULT')?.entries.get('state_path')?.value).toBe('/var/lib/protector');
    const storage = parsed.sections.get('storage');
    expect(storage?.line).toBe(7);
    expect(storage?.entries.get('primary_array_url')?.value).toBe('https://fa-a.example.com:8443/api');
    expect(storage?.entries.get('secondary_array_api_token')?.value).toBe('T-yy#yy');
    expect(storage?.entries.get('empty')?.value).toBe('');
  });

  it('merges repeated section headers, as oslo.config does', () => {
    const parsed = parseIni('[api]\nbind_port = 1\n[DEFAULT]\ndebug = 1\n[api]\nbind_host = ::\n');
    expect([...(parsed.sections.get('api')?.entries.keys() ?? [])]).toEqual(['bind_port', 'bind_host']);
  });

  it('reports every syntax problem with its line number', () => {
    const parsed = parseIni(
      [
        'orphan = 1',
        '[DEFAULT',
        '[]',
        '[api]',
        'bind_port 8788',
        '= 3',
        'bind_host = a',
        'bind_host = b',
      ].join('\r\n'),
    );
    expect(parsed.problems.map((p) => p.line)).toEqual([1, 2, 3, 5, 6, 8]);
    expect(parsed.problems[0]?.message).toContain("'orphan' appears before any [section]");
    expect(parsed.problems[1]?.message).toContain("Malformed section header '[DEFAULT'");
    expect(parsed.problems[3]?.message).toContain("'bind_port 8788' is not 'name = value'");
    expect(parsed.problems[5]?.message).toContain('set twice (lines 7 and 8)');
    for (const problem of parsed.problems) expect(problem.fix.length).toBeGreaterThan(10);
  });
});
