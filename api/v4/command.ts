import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { FieldPath } from '../../core/errors.ts';
import { UNSTORABLE_PROBLEM, unstorableTextAt } from '../../core/text.ts';
import type { App } from '../../db/apps.ts';
import type { ApiDeps } from '../context.ts';
import { tencentAuth, type V4Env } from './auth.ts';
import { asFailure, type Family, failBody, ok, TencentFailure } from './errors.ts';
import { isObject, type Json, withoutNulls } from './translate.ts';

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

/** The body must be one JSON object (`{}` for commands without parameters), whatever the Content-Type says. */
function readBody(text: string): Json {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new TencentFailure('invalid_json', [], 'the request body is not valid JSON');
  }
  if (!isObject(body)) throw new TencentFailure('invalid_json', [], 'the request body must be a JSON object');
  // Null means absent in every command (see withoutNulls), so no command reads a null.
  return withoutNulls(body) as Json;
}

const unstorable = (path: FieldPath) =>
  new TencentFailure('invalid_request', path, UNSTORABLE_PROBLEM, 'bad_character');

/**
 * The audience-data commands (accounts, tags, attributes), whose native rules refuse NUL and lone surrogates
 * field by field with their own codes; every other command's body is refused at once (api/text-check.ts).
 */
const checksTextItself = (service: string, command: string) =>
  service === 'im_open_login_svc' || (service === 'all_member_push' && command !== 'im_push');

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
      let bad: FieldPath | undefined;
      try {
        const body = readBody(await c.req.text());
        bad = unstorableTextAt(body);
        if (bad && !checksTextItself(service, name)) throw unstorable(bad);
        const fields = await run({ deps, app: c.get('app'), identifier: c.get('identifier'), body });
        return c.json(ok(fields), 200);
      } catch (err) {
        // Unstorable text the command's own rules let through to the database: that text, not a 91000.
        const failure = bad && !asFailure(err) ? unstorable(bad) : err;
        return c.json(failBody(failure, family, deps.log), 200);
      }
    });
  }
}
