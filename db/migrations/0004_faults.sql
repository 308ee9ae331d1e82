ALTER TABLE "campaigns" ADD COLUMN "workflow_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "request_hash" text;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "audience_slots" jsonb;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "workflow_started_at" timestamp with time zone;--> statement-breakpoint
-- Rows from before this migration had their workflows started by the service; the reconciler leaves them alone.
UPDATE "pushes" SET "workflow_started_at" = "created_at";--> statement-breakpoint
UPDATE "campaigns" SET "workflow_started_at" = "created_at";--> statement-breakpoint
CREATE UNIQUE INDEX "campaigns_idempotency" ON "campaigns" USING btree ("app_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "campaigns_unstarted" ON "campaigns" USING btree ("created_at") WHERE workflow_started_at is null and status = 'active';--> statement-breakpoint
CREATE INDEX "pushes_unstarted" ON "pushes" USING btree ("created_at") WHERE workflow_started_at is null and campaign_id is null and status in ('scheduled', 'running');