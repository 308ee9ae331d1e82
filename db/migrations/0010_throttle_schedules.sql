CREATE TABLE "schedules" (
	"app_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"spec" jsonb NOT NULL,
	"template" jsonb NOT NULL,
	"temporal_schedule_id" text NOT NULL,
	"temporal_created_at" timestamp with time zone,
	"count" integer,
	"paused_at_creation" boolean DEFAULT false NOT NULL,
	"idempotency_key" text,
	"request_hash" text,
	"runs" integer DEFAULT 0 NOT NULL,
	"last_run_at" timestamp with time zone,
	"last_push_id" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedules_app_id_id_pk" PRIMARY KEY("app_id","id")
);
--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "default_throttle_per_minute" integer;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "schedule_id" text;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "throttle_per_minute" integer;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "pace_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "paced_recipients" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "paced_notified" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_idempotency" ON "schedules" USING btree ("app_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "schedules_untemporal" ON "schedules" USING btree ("created_at") WHERE temporal_created_at is null;--> statement-breakpoint
CREATE INDEX "pushes_schedule" ON "pushes" USING btree ("app_id","schedule_id","id") WHERE schedule_id is not null;