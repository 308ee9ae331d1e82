/** A credential sent as `authorization: <scheme> <token>`. */
export interface Bearer {
  token: string;
  authorization: string;
}

/**
 * One bearer token shared by every request of a provider client. `current()` answers synchronously while the
 * token is fresh (what nearly every request finds, with no promise in between); `get()` obtains a new one,
 * once however many requests ask at the same moment; `expire()` drops the token the provider refused, so only
 * the first of many concurrent refusals of the same token causes a new one.
 */
export function createBearerCache(scheme: string, obtain: () => Promise<{ token: string; renewAt: number }>) {
  let current: (Bearer & { renewAt: number }) | undefined;
  let pending: Promise<Bearer> | undefined;
  return {
    current(): Bearer | undefined {
      return current && Date.now() < current.renewAt ? current : undefined;
    },
    get(): Promise<Bearer> {
      pending ??= obtain()
        .then(({ token, renewAt }) => {
          current = { token, authorization: `${scheme} ${token}`, renewAt };
          return current;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
    expire(bearer: Bearer): void {
      if (current?.token === bearer.token) current = undefined;
    },
  };
}
