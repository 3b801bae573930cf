/** How a Protection Group's array group (FlashArray protection group or pod) is named by default. */

/** `pg-<name>` made FlashArray-legal (letters, digits and '-', at most 63 characters). */
export function defaultStorageGroupName(pgName: string): string {
  const cleaned = pgName
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `pg-${cleaned || 'group'}`.slice(0, 63).replace(/-+$/, '');
}
