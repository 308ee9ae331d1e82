/**
 * Where the worker may fetch an FCM access token. A service account's `token_uri` comes from the tenant, and
 * the worker POSTs to it: left open, a tenant could make the worker call any internal address (blind SSRF).
 * Only Google's token endpoint is allowed, over https, unless the operator lists others in
 * HERALD_ALLOWED_TOKEN_URIS (an origin allows any path on it, a URL only itself); plain http:// only so.
 */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** Why `uri` may not be used, or undefined when it may. */
export function tokenUriProblem(uri: string, allowed: readonly string[] = []): string | undefined {
  if (!URL.canParse(uri)) return 'is not a URL';
  const target = new URL(uri);
  if (target.username || target.password) return 'must not carry credentials';
  const href = target.href;
  if (href === GOOGLE_TOKEN_URI) return undefined;
  for (const entry of allowed) {
    if (!URL.canParse(entry)) continue;
    const ok = new URL(entry);
    const originOnly = (ok.pathname === '/' || ok.pathname === '') && !ok.search && !entry.endsWith('/');
    if (originOnly ? ok.origin === target.origin : ok.href === href) return undefined;
  }
  return target.protocol === 'https:'
    ? `must be Google's token endpoint (${GOOGLE_TOKEN_URI}); the operator may allow others (HERALD_ALLOWED_TOKEN_URIS)`
    : `must be https:// (Google's token endpoint is ${GOOGLE_TOKEN_URI})`;
}
