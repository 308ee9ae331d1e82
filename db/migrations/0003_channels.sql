ALTER TABLE "apps" ADD COLUMN "channel_credentials" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "channel_counts" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
-- Credentials and counters move into one jsonb map per row, keyed by channel name, before the old columns go.
UPDATE "apps" SET "channel_credentials" =
	(CASE WHEN "apns_credentials" IS NULL OR jsonb_typeof("apns_credentials") = 'null' THEN '{}'::jsonb
		ELSE jsonb_build_object('apns', "apns_credentials") END) ||
	(CASE WHEN "fcm_credentials" IS NULL OR jsonb_typeof("fcm_credentials") = 'null' THEN '{}'::jsonb
		ELSE jsonb_build_object('fcm', "fcm_credentials") END)
WHERE "apns_credentials" IS NOT NULL OR "fcm_credentials" IS NOT NULL;--> statement-breakpoint
UPDATE "pushes" SET "channel_counts" =
	(CASE WHEN "apns_sent" + "apns_failed" + "apns_disabled" = 0 THEN '{}'::jsonb
		ELSE jsonb_build_object('apns', jsonb_build_object('sent', "apns_sent", 'failed', "apns_failed", 'disabled', "apns_disabled")) END) ||
	(CASE WHEN "fcm_sent" + "fcm_failed" + "fcm_disabled" = 0 THEN '{}'::jsonb
		ELSE jsonb_build_object('fcm', jsonb_build_object('sent', "fcm_sent", 'failed', "fcm_failed", 'disabled', "fcm_disabled")) END)
WHERE "apns_sent" + "apns_failed" + "apns_disabled" + "fcm_sent" + "fcm_failed" + "fcm_disabled" > 0;--> statement-breakpoint
-- Adds a tally {channel: {sent, failed, disabled}} to a push's counts, key by key, in the statement that claims
-- an offline page (activities/offline.ts), as the six counter columns were added to before.
CREATE FUNCTION "add_channel_counts"(counts jsonb, tally jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT counts || coalesce(jsonb_object_agg(channel, coalesce(counts -> channel, '{}'::jsonb) || (
		SELECT coalesce(jsonb_object_agg(k, coalesce((counts -> channel ->> k)::bigint, 0) + v::bigint), '{}'::jsonb)
		FROM jsonb_each_text(added) AS e(k, v)
	)), '{}'::jsonb)
	FROM jsonb_each(tally) AS t(channel, added)
$$;--> statement-breakpoint
ALTER TABLE "apps" DROP COLUMN "apns_credentials";--> statement-breakpoint
ALTER TABLE "apps" DROP COLUMN "fcm_credentials";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "apns_sent";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "apns_failed";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "apns_disabled";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "fcm_sent";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "fcm_failed";--> statement-breakpoint
ALTER TABLE "pushes" DROP COLUMN "fcm_disabled";
