import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './suggest.js';

describe('suggestions', () => {
  it('counts insertions, deletions, substitutions and swaps', () => {
    expect(editDistance('storage', 'storage')).toBe(0);
    expect(editDistance('storge', 'storage')).toBe(1);
    expect(editDistance('stroage', 'storage')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests close names only', () => {
    const options = ['primary_array_url', 'primary_array_api_token', 'secondary_array_url'];
    expect(closestMatch('primary_aray_url', options)).toBe('primary_array_url');
    expect(closestMatch('default', ['DEFAULT', 'api'])).toBe('DEFAULT');
    expect(closestMatch('memcached_servers', options)).toBeUndefined();
  });
});
