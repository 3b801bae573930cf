/** Names users give to Protector's own objects: Protection Groups and sites. */

const PROTECTION_GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_. -]{0,62}$/;
const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Why `name` is not a legal Protection Group name, or null when it is. */
export function protectionGroupNameProblem(name: string): string | null {
  return PROTECTION_GROUP_NAME.test(name)
    ? null
    : `Protection Group name '${name}' is not valid: use 1-63 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit.`;
}

/** Why `name` is not a legal site name, or null when it is. */
export function siteNameProblem(name: string): string | null {
  return SITE_NAME.test(name)
    ? null
    : `Site name '${name}' is not valid: use 1-63 letters, digits, '.', '_' or '-'.`;
}
