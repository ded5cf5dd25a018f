import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A bookmarklet's right to post pages into one session: only the token's hash is kept.
    CREATE TABLE housler.intake_tokens (
      token_hash   text PRIMARY KEY,
      session_id   text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      expires_at   timestamptz NOT NULL,
      last_job_id  uuid,
      last_url     text,
      last_used_at timestamptz
    )
  `.execute(db)
  await sql`CREATE INDEX intake_tokens_session ON housler.intake_tokens (session_id, last_used_at DESC NULLS LAST)`.execute(db)
  await sql`COMMENT ON TABLE housler.intake_tokens IS 'Session tokens of the "send this page" bookmarklet: SHA-256 of the token, its session, and the last page it sent'`.execute(db)
  await sql`COMMENT ON COLUMN housler.intake_tokens.last_job_id IS 'The parse job the last page sent with this token started'`.execute(db)
}
