import { createRoute, z } from '@hono/zod-openapi';
import { utf8Bytes } from '../core/messages.ts';
import { importAccounts } from '../db/accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, jsonBodyOf, jsonContent, security } from './schemas.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Account id: 1–32 bytes of UTF-8, no control characters. */
export const accountIdSchema = z
  .string()
  .min(1, 'account id must not be empty')
  .refine((s) => utf8Bytes(s) <= 32, 'account id must be at most 32 bytes of UTF-8')
  .refine((s) => !CONTROL.test(s), 'account id must not contain control characters');

export const MAX_BATCH = 1000;

const importRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['Accounts'],
  security,
  summary: 'Import accounts (up to 1,000); re-import is a no-op that may update nick',
  request: {
    body: jsonBodyOf(
      z
        .strictObject({
          accounts: z
            .array(
              z.strictObject({
                id: accountIdSchema,
                nick: z.string().max(100).optional(),
                faceUrl: z.string().max(500).optional(),
              }),
            )
            .min(1)
            .max(MAX_BATCH, `at most ${MAX_BATCH} accounts per call`),
        })
        .openapi('AccountImport'),
    ),
  },
  responses: {
    200: jsonContent(z.object({ imported: z.number(), created: z.number() }), 'Imported'),
    ...commonErrors,
  },
});

export function accountsRoutes(deps: ApiDeps) {
  const r = router();
  r.openapi(importRoute, async (c) => {
    const { accounts } = c.req.valid('json');
    const { created } = await importAccounts(deps.database.db, c.get('app').id, accounts);
    return c.json({ imported: accounts.length, created }, 200);
  });
  return r;
}
