import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { UNSTORABLE_PROBLEM, unstorableTextAt } from '../../core/text.ts';
import type { App } from '../../db/apps.ts';
import type { ApiDeps } from '../context.ts';
import { tencentAuth, type V4Env } from './auth.ts';
import { type Family, failBody, ok, TencentFailure } from './errors.ts';
import { isObject, type Json } from './translate.ts';

export interface CommandContext {
  deps: ApiDeps;
  app: App;
  /** The admin account that signed the request. */
  identifier: string;
  /** The request body, a JSON object. */
  body: Json;
}

/** A v4 command: a Tencent body in, the command's response fields out; failures are thrown. */
export type Command = (ctx: CommandContext) => Promise<Json>;

/**
 * The body must be one JSON object (`{}` for commands without parameters), whatever the Content-Type says, and
 * hold no text PostgreSQL cannot store (NUL, a lone surrogate): that is a bad parameter at its field.
 */
function readBody(text: string): Json {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new TencentFailure('invalid_json', [], 'the request body is not valid JSON');
  }
  if (!isObject(body)) throw new TencentFailure('invalid_json', [], 'the request body must be a JSON object');
  const bad = unstorableTextAt(body);
  if (bad) throw new TencentFailure('invalid_request', bad, UNSTORABLE_PROBLEM, 'bad_character');
  return body;
}

/**
 * Mounts `POST /{service}/{command}` for each command of one service: Tencent's authentication, the body (at
 * most HERALD_MAX_BODY_BYTES, refused while it streams in, never read before authentication), then the
 * command, answered as Tencent does (always HTTP 200, ActionStatus / ErrorCode / ErrorInfo).
 */
export function mountService(
  v4: Hono<V4Env>,
  deps: ApiDeps,
  service: string,
  family: Family,
  commands: Record<string, Command>,
): void {
  const auth = tencentAuth(deps, family);
  const max = deps.config.HERALD_MAX_BODY_BYTES;
  const limit = bodyLimit({
    maxSize: max,
    onError: (c) => {
      const err = new TencentFailure('payload_too_large', [], `the request body is over ${max} bytes`);
      return c.json(failBody(err, family, deps.log), 200);
    },
  });
  for (const [name, run] of Object.entries(commands)) {
    v4.post(`/${service}/${name}`, auth, limit, async (c) => {
      try {
        const body = readBody(await c.req.text());
        const fields = await run({ deps, app: c.get('app'), identifier: c.get('identifier'), body });
        return c.json(ok(fields), 200);
      } catch (err) {
        return c.json(failBody(err, family, deps.log), 200);
      }
    });
  }
}
