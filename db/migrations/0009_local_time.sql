CREATE TABLE "push_waves" (
	"app_id" text NOT NULL,
	"push_id" text NOT NULL,
	"wave" smallint NOT NULL,
	"utc_offset" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"zones" text[] NOT NULL,
	"planned" integer NOT NULL,
	"status" text DEFAULT 'waiting' NOT NULL,
	"snapshot_at" timestamp with time zone,
	"audience" integer DEFAULT 0 NOT NULL,
	"stored_offline" integer DEFAULT 0 NOT NULL,
	"delivered_online" integer DEFAULT 0 NOT NULL,
	"offline_cursor" bigint DEFAULT 0 NOT NULL,
	"channel_counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "push_waves_push_id_wave_pk" PRIMARY KEY("push_id","wave")
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "timezone" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "default_timezone" text DEFAULT 'UTC' NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "default_window" jsonb;--> statement-breakpoint
ALTER TABLE "push_recipients" ADD COLUMN "wave" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "local_delivery" jsonb;--> statement-breakpoint
ALTER TABLE "push_waves" ADD CONSTRAINT "push_waves_app_id_push_id_pushes_app_id_id_fk" FOREIGN KEY ("app_id","push_id") REFERENCES "public"."pushes"("app_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "accounts_app_timezone" ON "accounts" USING btree ("app_id","timezone");