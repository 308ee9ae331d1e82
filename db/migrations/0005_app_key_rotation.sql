ALTER TABLE "apps" ADD COLUMN "previous_api_key_hash" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "previous_api_key_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "previous_secret_key" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "previous_secret_key_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_previous_api_key_hash_unique" UNIQUE("previous_api_key_hash");--> statement-breakpoint
-- Secret keys and credentials written before encryption at rest stay plaintext here (a migration has no
-- encryption key): reads accept them, and the next write or `herald keys reencrypt` seals them.
COMMENT ON COLUMN "apps"."secret_key" IS 'sealed by core/secrets.ts (hsec1:…); plaintext only in rows from before encryption at rest';
