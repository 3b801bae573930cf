/** URL rules: what an endpoint URL may be, the FlashArray management URL policy, and hiding passwords. */

/**
 * Why `value` is not an acceptable endpoint URL, or null when it is: it must parse and use http or
 * https (https only with `httpsOnly`). The reason completes a sentence that names the field.
 */
export function urlProblem(value: string, opts: { readonly httpsOnly?: boolean } = {}): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol === 'http:' && opts.httpsOnly)
    return 'is refused: HTTPS required, http:// URLs are not allowed';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `has scheme ${url.protocol.replace(/:$/, '')}, not http or https`;
  }
  return null;
}

/**
 * FlashArray management is served over TLS only: why `value` is not a usable array URL, or null.
 * The drivers, the site's stored policies, the gateway's input checks and the config compiler all
 * apply this one policy.
 */
export const arrayUrlProblem = (value: string): string | null => urlProblem(value, { httpsOnly: true });

/** Replaces the password of a `scheme://user:password@host/...` URL with `***`. */
export function redactUrlPassword(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  if (scheme === undefined) return url;
  const rest = url.slice(scheme.length);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return url;
  return `${scheme}${authority.slice(0, colon)}:***${rest.slice(at)}`;
}
