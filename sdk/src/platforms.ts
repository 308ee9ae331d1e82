// Generated from delivery/registry.ts by `npm run generate:platforms`: do not edit by hand.

/** The device platforms the server accepts (its registered channels). */
export const PLATFORMS = ['apns', 'fcm', 'hms', 'honor', 'xiaomi', 'oppo', 'vivo', 'webpush'] as const;
export type Platform = (typeof PLATFORMS)[number];
