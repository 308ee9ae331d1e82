import { metricsResponse } from '../core/metrics.ts';
import { accountPushesRoutes } from './account-pushes.ts';
import { accountsRoutes } from './accounts.ts';
import { appSettingsRoutes } from './app-settings.ts';
import { appsRoutes } from './apps.ts';
import { attributesRoutes } from './attributes.ts';
import { audienceRoutes } from './audience.ts';
import { campaignsRoutes } from './campaigns.ts';
import { connectRoutes } from './connect.ts';
import { type ConsoleOptions, consoleRoutes } from './console/index.tsx';
import { type ApiDeps, router } from './context.ts';
import { devicesRoutes } from './devices.ts';
import { docsRoutes } from './docs.ts';
import { engagementRoutes } from './engagement.ts';
import { errorBody, errorHandler } from './errors.ts';
import { healthRoutes } from './health.ts';
import { appAuth, closeAfterUnreadBody, jsonBody, limitBody } from './middleware.ts';
import { pushesRoutes } from './pushes.ts';
import { requestIdOf, requestLog } from './request-log.ts';
import { schedulesRoutes } from './schedules.ts';
import { tagsRoutes } from './tags.ts';
import { tokensRoutes } from './tokens.ts';
import { traceRequests } from './tracing.ts';
import { v4Routes } from './v4/index.ts';
import { webhooksRoutes } from './webhooks.ts';

/**
 * The batch imports, whose documented maximum (1,000 accounts × 100 tags of 50 bytes, ≈ 5.4 MB, twice that
 * with non-ASCII escaped as `\uXXXX`) passes the default body limit: they get HERALD_MAX_IMPORT_BODY_BYTES.
 */
const IMPORT_ROUTES = new Set([
  'POST /v1/accounts',
  'POST /v1/tags/add',
  'POST /v1/tags/remove',
  'POST /v1/attributes/set',
  'POST /v1/attributes/remove',
]);

/**
 * The whole HTTP surface: health, the operator endpoints, the app-scoped /v1 API, the OpenAPI document.
 * No body is read before the request is authenticated, and none past its route's limit; a path that
 * matches no route answers 404 without reading it.
 */
export function createApi(deps: ApiDeps, options: ConsoleOptions = {}) {
  const { config } = deps;
  const api = router();
  api.onError(errorHandler(deps.log));
  api.notFound((c) =>
    c.json(
      errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`, { requestId: requestIdOf(c) }),
      404,
    ),
  );
  api.use('*', requestLog(deps.log.child({ component: 'http' })));
  api.use('*', traceRequests());
  api.use('*', closeAfterUnreadBody());
  // Prometheus text for this process (core/metrics.ts), behind HERALD_METRICS_TOKEN when set.
  api.get('/metrics', async (c) => {
    const answer = await metricsResponse(c.req.header('authorization'), config.HERALD_METRICS_TOKEN);
    return c.body(answer.body, answer.status === 200 ? 200 : 401, { 'content-type': answer.contentType });
  });
  // Tencent's v4 layer reads its own bodies (after its own authentication) and always answers HTTP 200.
  api.route('/v4', v4Routes(deps));

  api.route('/', healthRoutes(deps));
  api.route('/v1/apps', appsRoutes(deps));

  // The WebSocket upgrade is taken by the http server (gateway/); a plain GET says to upgrade.
  api.route('/v1/connect', connectRoutes());

  // Devices report opens with their user token, not the app key: mounted before the app-key routes.
  api.route('/v1/engagement', engagementRoutes(deps));

  const v1 = router();
  v1.use('*', appAuth(deps.database, config.HERALD_ROOT_KEY));
  v1.use(
    '*',
    limitBody((c) =>
      IMPORT_ROUTES.has(`${c.req.method} ${c.req.path}`)
        ? config.HERALD_MAX_IMPORT_BODY_BYTES
        : config.HERALD_MAX_BODY_BYTES,
    ),
  );
  v1.use('*', jsonBody());
  v1.route('/apps/current', appSettingsRoutes(deps));
  v1.route('/accounts', accountsRoutes(deps));
  v1.route('/accounts', tokensRoutes(deps));
  v1.route('/accounts', devicesRoutes(deps));
  v1.route('/accounts', accountPushesRoutes(deps));
  v1.route('/', tagsRoutes(deps));
  v1.route('/', attributesRoutes(deps));
  v1.route('/audience', audienceRoutes(deps));
  v1.route('/pushes', pushesRoutes(deps));
  v1.route('/campaigns', campaignsRoutes(deps));
  v1.route('/webhooks', webhooksRoutes(deps));
  v1.route('/schedules', schedulesRoutes(deps));
  api.route('/v1', v1);

  api.openAPIRegistry.registerComponent('securitySchemes', 'appKey', { type: 'http', scheme: 'bearer' });
  api.openAPIRegistry.registerComponent('securitySchemes', 'rootKey', { type: 'http', scheme: 'bearer' });
  api.openAPIRegistry.registerComponent('securitySchemes', 'userToken', { type: 'http', scheme: 'bearer' });
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Herald API', version: '1', description: 'Push to all users, by tag or by attribute.' },
  });
  api.route('/', docsRoutes());
  // The operator console: pages over this same API, called in process with the session's key.
  api.route(
    '/console',
    consoleRoutes(deps, (request) => api.fetch(request), options),
  );
  return api;
}
