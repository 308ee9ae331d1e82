CREATE TABLE "accounts" (
	"app_id" text NOT NULL,
	"account_id" text NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "accounts_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"nick" text,
	"face_url" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"attrs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"imported_at" timestamp with time zone,
	"last_login_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_app_id_account_id_pk" PRIMARY KEY("app_id","account_id")
);
--> statement-breakpoint
CREATE TABLE "apps" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"sdk_app_id" bigint NOT NULL,
	"api_key_hash" text NOT NULL,
	"secret_key" text NOT NULL,
	"admin_identifier" text DEFAULT 'administrator' NOT NULL,
	"attr_slots" smallint DEFAULT 10 NOT NULL,
	"daily_push_quota" integer DEFAULT 100 NOT NULL,
	"min_push_interval_ms" integer DEFAULT 1000 NOT NULL,
	"apns_credentials" jsonb,
	"fcm_credentials" jsonb,
	"is_default" boolean DEFAULT false NOT NULL,
	"last_push_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "apps_sdk_app_id_unique" UNIQUE("sdk_app_id"),
	CONSTRAINT "apps_api_key_hash_unique" UNIQUE("api_key_hash")
);
--> statement-breakpoint
CREATE TABLE "attribute_names" (
	"app_id" text NOT NULL,
	"slot" smallint NOT NULL,
	"name" text NOT NULL,
	CONSTRAINT "attribute_names_app_id_slot_pk" PRIMARY KEY("app_id","slot")
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"app_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"steps" jsonb NOT NULL,
	"workflow_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"canceled_at" timestamp with time zone,
	CONSTRAINT "campaigns_app_id_id_pk" PRIMARY KEY("app_id","id")
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"app_id" text NOT NULL,
	"platform" text NOT NULL,
	"token" text NOT NULL,
	"account_id" text NOT NULL,
	"environment" text DEFAULT 'production' NOT NULL,
	"topic" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	CONSTRAINT "devices_app_id_platform_token_pk" PRIMARY KEY("app_id","platform","token")
);
--> statement-breakpoint
CREATE TABLE "gateways" (
	"id" text PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "presence" (
	"gateway_id" text NOT NULL,
	"app_id" text NOT NULL,
	"account_id" text NOT NULL,
	"connections" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "presence_app_id_account_id_gateway_id_pk" PRIMARY KEY("app_id","account_id","gateway_id")
);
--> statement-breakpoint
CREATE TABLE "push_quota" (
	"app_id" text NOT NULL,
	"day" text NOT NULL,
	"used" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "push_quota_app_id_day_pk" PRIMARY KEY("app_id","day")
);
--> statement-breakpoint
CREATE TABLE "push_recipients" (
	"push_id" text NOT NULL,
	"account_seq" bigint NOT NULL,
	"account_id" text NOT NULL,
	"state" smallint DEFAULT 0 NOT NULL,
	CONSTRAINT "push_recipients_push_id_account_seq_pk" PRIMARY KEY("push_id","account_seq")
) PARTITION BY LIST ("push_id");
--> statement-breakpoint
CREATE TABLE "pushes" (
	"app_id" text NOT NULL,
	"id" text NOT NULL,
	"campaign_id" text,
	"campaign_step" smallint,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"audience" jsonb,
	"message" jsonb NOT NULL,
	"offline" jsonb NOT NULL,
	"from_account" text,
	"retention_seconds" integer NOT NULL,
	"send_at" timestamp with time zone,
	"idempotency_key" text,
	"request_hash" text,
	"source" text DEFAULT 'v1' NOT NULL,
	"workflow_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"snapshot_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"canceled_at" timestamp with time zone,
	"recalled_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"expired_at" timestamp with time zone,
	"failure_reason" text,
	"audience_count" bigint DEFAULT 0 NOT NULL,
	"delivered_online" bigint DEFAULT 0 NOT NULL,
	"stored_offline" bigint DEFAULT 0 NOT NULL,
	"synced_later" bigint DEFAULT 0 NOT NULL,
	"acked" bigint DEFAULT 0 NOT NULL,
	"expired" bigint DEFAULT 0 NOT NULL,
	"withdrawn" bigint DEFAULT 0 NOT NULL,
	"apns_sent" bigint DEFAULT 0 NOT NULL,
	"apns_failed" bigint DEFAULT 0 NOT NULL,
	"apns_disabled" bigint DEFAULT 0 NOT NULL,
	"fcm_sent" bigint DEFAULT 0 NOT NULL,
	"fcm_failed" bigint DEFAULT 0 NOT NULL,
	"fcm_disabled" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "pushes_app_id_id_pk" PRIMARY KEY("app_id","id")
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attribute_names" ADD CONSTRAINT "attribute_names_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "presence" ADD CONSTRAINT "presence_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "push_quota" ADD CONSTRAINT "push_quota_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pushes" ADD CONSTRAINT "pushes_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_app_seq" ON "accounts" USING btree ("app_id","seq");--> statement-breakpoint
CREATE INDEX "accounts_tags_gin" ON "accounts" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "accounts_attrs_gin" ON "accounts" USING gin ("attrs" jsonb_path_ops);--> statement-breakpoint
CREATE UNIQUE INDEX "attribute_names_app_name" ON "attribute_names" USING btree ("app_id","name");--> statement-breakpoint
CREATE INDEX "campaigns_app_created" ON "campaigns" USING btree ("app_id","created_at");--> statement-breakpoint
CREATE INDEX "devices_account" ON "devices" USING btree ("app_id","account_id");--> statement-breakpoint
CREATE INDEX "push_recipients_account" ON "push_recipients" USING btree ("account_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pushes_idempotency" ON "pushes" USING btree ("app_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "pushes_app_created" ON "pushes" USING btree ("app_id","created_at","id");--> statement-breakpoint
CREATE INDEX "pushes_campaign" ON "pushes" USING btree ("app_id","campaign_id");