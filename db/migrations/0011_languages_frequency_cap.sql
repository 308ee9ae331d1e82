ALTER TABLE "accounts" ADD COLUMN "language" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "frequency_cap" jsonb;--> statement-breakpoint
ALTER TABLE "push_recipients" ADD COLUMN "variant" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "localized" jsonb;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "capped" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "cap_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "over_cap" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "language_counts" jsonb;--> statement-breakpoint
CREATE INDEX "pushes_app_cap" ON "pushes" USING btree ("app_id","cap_until") WHERE cap_until is not null;