CREATE TABLE "push_page_ranges" (
	"app_id" text NOT NULL,
	"push_id" text NOT NULL,
	"first_row" bigint NOT NULL,
	"last_row" bigint NOT NULL,
	"cursor" bigint NOT NULL,
	CONSTRAINT "push_page_ranges_push_id_first_row_pk" PRIMARY KEY("push_id","first_row")
);
--> statement-breakpoint
ALTER TABLE "push_recipients" ADD COLUMN "row_no" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "push_waves" ADD COLUMN "first_row" bigint;--> statement-breakpoint
ALTER TABLE "push_waves" ADD COLUMN "last_row" bigint;--> statement-breakpoint
ALTER TABLE "pushes" ADD COLUMN "last_row" bigint;--> statement-breakpoint
ALTER TABLE "push_page_ranges" ADD CONSTRAINT "push_page_ranges_app_id_push_id_pushes_app_id_id_fk" FOREIGN KEY ("app_id","push_id") REFERENCES "public"."pushes"("app_id","id") ON DELETE cascade ON UPDATE no action;