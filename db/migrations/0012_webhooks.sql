CREATE TABLE "push_engagement" (
	"app_id" text NOT NULL,
	"push_id" text NOT NULL,
	"account_id" text NOT NULL,
	"kind" smallint NOT NULL,
	"channel" text NOT NULL,
	"action" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "push_engagement_app_id_push_id_account_id_kind_pk" PRIMARY KEY("app_id","push_id","account_id","kind")
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"app_id" text NOT NULL,
	"id" text NOT NULL,
	"url" text NOT NULL,
	"description" text,
	"event_types" text[] NOT NULL,
	"secret" text NOT NULL,
	"status" text DEFAULT 'enabled' NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	"cursor_txid" bigint DEFAULT 0 NOT NULL,
	"cursor_seq" bigint DEFAULT 0 NOT NULL,
	"pending_batch" jsonb,
	"replay" jsonb,
	"failing_since" timestamp with time zone,
	"last_failure" text,
	"last_success_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_endpoints_app_id_id_pk" PRIMARY KEY("app_id","id")
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"app_id" text NOT NULL,
	"txid" bigint DEFAULT (pg_current_xact_id()::text)::bigint NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "webhook_outbox_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text DEFAULT 'evt_' || replace(gen_random_uuid()::text, '-', '') NOT NULL,
	"type" text NOT NULL,
	"push_id" text,
	"account_id" text,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_outbox_app_id_txid_seq_pk" PRIMARY KEY("app_id","txid","seq")
);
--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "opened" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "clicked" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_outbox_created" ON "webhook_outbox" USING btree ("app_id","created_at");--> statement-breakpoint
-- Wakes the app's webhook workflows once per writing transaction, on commit (pushes/webhook-wake.ts listens).
CREATE FUNCTION "webhook_outbox_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('herald_webhooks', a.app_id) FROM (SELECT DISTINCT app_id FROM new_rows) a;
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "webhook_outbox_notify" AFTER INSERT ON "webhook_outbox"
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "webhook_outbox_notify"();
