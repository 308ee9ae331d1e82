import { describe, expect, it } from 'vitest';
import { fcmBodies, fcmMessage } from '../delivery/channels/fcm/payload.ts';

describe('FCM bodies spliced around the token', () => {
  const tokens = [
    'fcm:APA91bH-simple_token.123',
    'quote"back\\slash/solidus',
    'tab\there\nnewline\u0000nul\u001f',
    'ünïcødé 令牌 🚀',
    'lone \ud800 surrogate \udc00',
    '',
    '}},{"message":{"token":"injected"}}',
  ];
  const messages: Record<string, unknown>[] = [
    fcmMessage(
      {
        pushId: 'p"1',
        title: 'Hi \u2028',
        body: 'B\\ody',
        data: { k: 'v"' },
        ext: '{"a":1}',
        expiresAt: new Date(Date.now() + 60_000),
      },
      Date.now(),
    ),
    fcmMessage({ pushId: 'p2', body: 'x', expiresAt: null }),
    {},
  ];

  it('is byte for byte JSON.stringify of the whole request, for tokens of any characters', () => {
    for (const message of messages) {
      const bodyFor = fcmBodies(message);
      for (const token of tokens) {
        const body = bodyFor(token);
        expect(Buffer.from(body)).toEqual(Buffer.from(JSON.stringify({ message: { token, ...message } })));
        expect((JSON.parse(body) as { message: { token: string } }).message.token).toBe(token);
      }
    }
  });
});
