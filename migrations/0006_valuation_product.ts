import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  // When the listing's own page (not a search card) was last parsed: analogs parsed within a day are
  // not fetched again, and a later search card does not overwrite the page's facts.
  await sql`ALTER TABLE housler.listings ADD COLUMN page_parsed_at timestamptz`.execute(db)
  await sql`
    -- Child jobs a job spawned (find-similar's parse jobs for its analogs' pages).
    CREATE TABLE housler._task_children (
      child_job_id  uuid PRIMARY KEY,
      parent_job_id uuid NOT NULL,
      -- What the child is for (the analog's URL).
      ref           text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db)
  await sql`CREATE INDEX task_children_parent_idx ON housler._task_children (parent_job_id)`.execute(db)
  await sql`COMMENT ON TABLE housler._task_children IS 'Child jobs of a job (analog page parses of a find-similar); counted in the parent''s status, canceled with it.'`.execute(db)

  // Analogs the user added by hand and the URLs they excluded, remembered across reports.
  await sql`ALTER TABLE housler.sessions ADD COLUMN added_analogs jsonb NOT NULL DEFAULT '[]', ADD COLUMN excluded_urls text[] NOT NULL DEFAULT '{}'`.execute(db)

  await sql`
    -- Read-only share links of a report: the URL carries the id and an HMAC of it; revoking or
    -- expiry makes it answer 404.
    CREATE TABLE housler.report_shares (
      id         uuid PRIMARY KEY,
      report_id  uuid NOT NULL REFERENCES housler.reports (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db)
  await sql`
    -- Keys the service generates once when the operator gave none (SHARE_LINK_SECRET), shared by every replica.
    CREATE TABLE housler._secrets (name text PRIMARY KEY, value text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
  `.execute(db)
  await sql`CREATE INDEX report_shares_report_idx ON housler.report_shares (report_id)`.execute(db)
  await sql`COMMENT ON TABLE housler.report_shares IS 'Share links of reports (POST /api/reports/:id/share); revoked_at or expires_at past → the link answers 404.'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE housler.report_shares, housler._task_children, housler._secrets`.execute(db)
  await sql`ALTER TABLE housler.sessions DROP COLUMN added_analogs, DROP COLUMN excluded_urls`.execute(db)
  await sql`ALTER TABLE housler.listings DROP COLUMN page_parsed_at`.execute(db)
}
