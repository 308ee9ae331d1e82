import { createRoute, z } from '@hono/zod-openapi';
import type { ScheduleDescription } from '@temporalio/client';
import { listSchedules, type ScheduleRow } from '../db/schedules.ts';
import {
  createSchedule,
  deleteSchedule,
  describeSchedule,
  getSchedule,
  pauseSchedule,
  resumeSchedule,
  scheduleInputSchema,
  scheduleUpdateSchema,
  triggerSchedule,
  updateSchedule,
} from '../pushes/schedules.ts';
import { type ApiDeps, router } from './context.ts';
import {
  commonErrors,
  conflictError,
  idempotencyKeyHeader,
  jsonBodyOf,
  jsonContent,
  notFoundError,
  security,
  uuidPageQuery,
} from './schemas.ts';

const tags = ['Schedules'];
const idParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

const ScheduleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'paused', 'done', 'unscheduled']).openapi({
      description:
        '`done`: no run will come (its end or count is reached); `unscheduled`: its Temporal Schedule is not made yet',
    }),
    calendar: z.array(z.unknown()).nullable(),
    cron: z.array(z.string()).nullable(),
    timezone: z.string(),
    startAt: z.string().nullable(),
    endAt: z.string().nullable(),
    count: z.number().nullable().openapi({ description: 'Scheduled runs asked for at creation' }),
    remainingRuns: z.number().nullable().openapi({ description: 'Scheduled runs left; null = no limit' }),
    note: z.string().nullable(),
    nextRunTimes: z.array(z.string()),
    recentRuns: z.array(z.object({ scheduledAt: z.string(), startedAt: z.string(), workflowId: z.string() })),
    runs: z.number().openapi({ description: 'Runs that made their push' }),
    lastRun: z
      .object({ at: z.string(), pushId: z.string().nullable(), error: z.string().nullable() })
      .nullable(),
    push: z.unknown().openapi({ description: 'The push each run creates' }),
    temporalScheduleId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    links: z.object({
      self: z.string(),
      pushes: z.string(),
      pause: z.string(),
      resume: z.string(),
      trigger: z.string(),
    }),
  })
  .openapi('Schedule');

function scheduleView(row: ScheduleRow, d: ScheduleDescription | undefined): z.infer<typeof ScheduleSchema> {
  const self = `/v1/schedules/${row.id}`;
  const status = !d
    ? 'unscheduled'
    : d.state.paused
      ? 'paused'
      : d.info.nextActionTimes.length
        ? 'active'
        : 'done';
  return {
    id: row.id,
    name: row.name,
    status,
    calendar: row.spec.calendars ?? null,
    cron: row.spec.cron ?? null,
    timezone: row.spec.timezone,
    startAt: row.spec.startAt ?? null,
    endAt: row.spec.endAt ?? null,
    count: row.count,
    remainingRuns: d ? (d.state.remainingActions ?? null) : row.count,
    note: d?.state.note || null,
    nextRunTimes: d && !d.state.paused ? d.info.nextActionTimes.map((t) => t.toISOString()) : [],
    recentRuns: (d?.info.recentActions ?? []).map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      startedAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    runs: row.runs,
    lastRun: row.lastRunAt
      ? {
          at: row.lastRunAt.toISOString(),
          pushId: row.lastError ? null : row.lastPushId,
          error: row.lastError,
        }
      : null,
    push: row.template,
    temporalScheduleId: row.temporalScheduleId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    links: {
      self,
      pushes: `/v1/pushes?scheduleId=${row.id}`,
      pause: `${self}/pause`,
      resume: `${self}/resume`,
      trigger: `${self}/trigger`,
    },
  };
}

const specErrors =
  '`invalid_request`, `invalid_schedule`, `invalid_cron`, `invalid_timezone`, `time_in_past`';

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Create a recurring push: a calendar or cron spec in a time zone, and the push each run creates',
  request: {
    headers: idempotencyKeyHeader('schedule'),
    body: jsonBodyOf(scheduleInputSchema.openapi('ScheduleInput')),
  },
  responses: {
    201: jsonContent(ScheduleSchema, 'Created'),
    200: jsonContent(ScheduleSchema, 'The schedule this Idempotency-Key already created'),
    ...commonErrors,
    400: { description: specErrors, content: commonErrors[400].content },
    ...conflictError('`idempotency_key_reused`, `schedule_limit_reached`'),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'List schedules, newest first, with their next run times',
  request: {
    query: z.object({
      ...uuidPageQuery(50, 20),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ schedules: z.array(ScheduleSchema), nextCursor: z.string().nullable() }),
      'A page of schedules',
    ),
    ...commonErrors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'A schedule: its spec, state, next run times, recent and last runs',
  request: { params: idParam },
  responses: { 200: jsonContent(ScheduleSchema, 'The schedule'), ...commonErrors, ...notFoundError },
});

const patch = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  security,
  summary: 'Change its name, timing, count or push template (calendar replaces cron and vice versa)',
  request: { params: idParam, body: jsonBodyOf(scheduleUpdateSchema.openapi('ScheduleUpdate')) },
  responses: {
    200: jsonContent(ScheduleSchema, 'The schedule'),
    ...commonErrors,
    400: { description: specErrors, content: commonErrors[400].content },
    ...notFoundError,
    ...conflictError('`schedule_not_ready`'),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  security,
  summary: 'Delete a schedule; the pushes its runs made stay',
  request: { params: idParam },
  responses: { 204: { description: 'Deleted' }, ...commonErrors, ...notFoundError },
});

const actionResponses = {
  200: jsonContent(ScheduleSchema, 'The schedule'),
  ...commonErrors,
  ...notFoundError,
  ...conflictError('`schedule_not_ready`'),
};

/** Pause and resume take an optional note, which the Temporal UI shows beside the Schedule's state. */
const stateRoute = (name: 'pause' | 'resume', summary: string) =>
  createRoute({
    method: 'post',
    path: `/{id}/${name}`,
    tags,
    security,
    summary,
    request: {
      params: idParam,
      body: {
        required: false,
        content: {
          'application/json': { schema: z.strictObject({ note: z.string().min(1).max(500).optional() }) },
        },
      },
    },
    responses: actionResponses,
  });

const trigger = createRoute({
  method: 'post',
  path: '/{id}/trigger',
  tags,
  security,
  summary: 'Run now, also when paused; does not count against `count`',
  request: { params: idParam },
  responses: actionResponses,
});

export function schedulesRoutes(deps: ApiDeps) {
  const r = router();
  const view = async (row: ScheduleRow) => scheduleView(row, await describeSchedule(deps.temporal, row));
  const reread = async (appId: string, id: string) => view(await getSchedule(deps, appId, id));

  r.openapi(create, async (c) => {
    const { schedule, created } = await createSchedule(deps, c.get('app'), c.req.valid('json'), {
      idempotencyKey: c.req.valid('header')['idempotency-key'],
    });
    return c.json(await view(schedule), created ? 201 : 200);
  });
  r.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await listSchedules(deps.database.db, c.get('app').id, q.cursor, q.limit);
    const views = await Promise.all(rows.map(view));
    return c.json(
      { schedules: views, nextCursor: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null },
      200,
    );
  });
  r.openapi(get, async (c) => c.json(await reread(c.get('app').id, c.req.valid('param').id), 200));
  r.openapi(patch, async (c) => {
    const row = await getSchedule(deps, c.get('app').id, c.req.valid('param').id);
    await updateSchedule(deps, row, c.req.valid('json'));
    return c.json(await reread(row.appId, row.id), 200);
  });
  r.openapi(remove, async (c) => {
    await deleteSchedule(deps, await getSchedule(deps, c.get('app').id, c.req.valid('param').id));
    return c.body(null, 204);
  });
  r.openapi(stateRoute('pause', 'Pause: no run comes until it is resumed'), async (c) => {
    const row = await getSchedule(deps, c.get('app').id, c.req.valid('param').id);
    await pauseSchedule(deps, row, c.req.valid('json').note);
    return c.json(await view(row), 200);
  });
  r.openapi(
    stateRoute('resume', 'Resume: runs come again at their times (missed ones are not made up)'),
    async (c) => {
      const row = await getSchedule(deps, c.get('app').id, c.req.valid('param').id);
      await resumeSchedule(deps, row, c.req.valid('json').note);
      return c.json(await view(row), 200);
    },
  );
  r.openapi(trigger, async (c) => {
    const row = await getSchedule(deps, c.get('app').id, c.req.valid('param').id);
    await triggerSchedule(deps, row);
    return c.json(await view(row), 200);
  });
  return r;
}
