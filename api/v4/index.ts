/**
 * The Tencent-compatible layer: `POST /v4/{service}/{command}` as Tencent Cloud IM's REST API speaks it, each
 * command a thin translation onto the native services. docs/tencent.md is the migration guide.
 */
import { Hono } from 'hono';
import type { ApiDeps } from '../context.ts';
import { allMemberPushCommands } from './all-member-push.ts';
import type { V4Env } from './auth.ts';
import { mountService } from './command.ts';
import { failBody, TencentFailure } from './errors.ts';
import { imOpenLoginSvcCommands } from './im-open-login-svc.ts';
import { openimCommands } from './openim.ts';
import { timpushCommands } from './timpush.ts';

export function v4Routes(deps: ApiDeps) {
  const v4 = new Hono<V4Env>();
  mountService(v4, deps, 'all_member_push', 'push', allMemberPushCommands);
  mountService(v4, deps, 'im_open_login_svc', 'account', imOpenLoginSvcCommands);
  mountService(v4, deps, 'timpush', 'push', timpushCommands);
  mountService(v4, deps, 'openim', 'account', openimCommands);
  v4.all('*', (c) => {
    const what = `${c.req.method} ${c.req.path}`;
    const err = new TencentFailure(
      'unknown_command',
      [],
      `${what}: not a command Herald speaks; see docs/tencent.md (commands are POST)`,
    );
    return c.json(failBody(err, 'push', deps.log), 200);
  });
  return v4;
}
