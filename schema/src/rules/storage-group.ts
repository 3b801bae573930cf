/** How a Protection Group's array group (FlashArray protection group or pod) is named by default. */

/**
 * `pg-<name>-<first 8 hex digits of the group id>`, FlashArray-legal (letters, digits and '-', at most
 * 63 characters). The id part keeps two groups apart whose names differ only in what the array does
 * not allow (`a` and `a..`), or that belong to two tenants: no two groups ever share an array object.
 */
export function defaultStorageGroupName(pgName: string, groupId: string): string {
  const cleaned = pgName
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  const id =
    groupId
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 8)
      .toLowerCase() || '0';
  return `pg-${cleaned || 'group'}-${id}`;
}
