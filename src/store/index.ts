import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'
import type { SessionRecord, StoredReport, TaskServices } from '../tasks/services.ts'
import { createIntakeTokens, type IntakeTokens } from './intake.ts'
import { findPagesParsedSince, listingsHistory, searchListings, upsertListings } from './listings.ts'

export { listingsSearchSql, searchListings, upsertListings } from './listings.ts'
export type { IntakeSubmission, IntakeTokens } from './intake.ts'

export type ShareRow = { id: string; report_id: string; expires_at: Date; revoked_at: Date | null }

/** Share links of reports (routes only; tasks never share). */
export type ShareStore = {
  create(reportId: string, expiresAt: Date): Promise<string>
  find(id: string): Promise<ShareRow | undefined>
  /** false when there is no such link. */
  revoke(id: string): Promise<boolean>
  /** The HMAC key: the configured one, else one generated once and kept in housler._secrets. */
  secret(configured: string | undefined): Promise<string>
}

function createShareStore(db: Kysely<Database>): ShareStore {
  let generated: string | undefined
  return {
    async create(reportId, expiresAt) {
      const id = randomUUID()
      await sql`INSERT INTO housler.report_shares (id, report_id, expires_at) VALUES (${id}, ${reportId}, ${expiresAt})`.execute(db)
      return id
    },
    async find(id) {
      const result = await sql<ShareRow>`SELECT id, report_id, expires_at, revoked_at FROM housler.report_shares WHERE id = ${id}`.execute(db)
      return result.rows[0]
    },
    async revoke(id) {
      const result = await sql`UPDATE housler.report_shares SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id}`.execute(db)
      return Number(result.numAffectedRows ?? 0) > 0
    },
    async secret(configured) {
      if (configured) return configured
      if (generated) return generated
      // Two random UUIDs: 244 random bits, the same for every replica because it lives in the database.
      await sql`INSERT INTO housler._secrets (name, value) VALUES ('share_links', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
        ON CONFLICT (name) DO NOTHING`.execute(db)
      const result = await sql<{ value: string }>`SELECT value FROM housler._secrets WHERE name = 'share_links'`.execute(db)
      generated = result.rows[0].value
      return generated
    },
  }
}

/** The Postgres-backed stores task handlers use (listings, sessions, reports), the bookmarklet's tokens and share links. */
export function createStores(db: Kysely<Database>): Omit<TaskServices, 'config' | 'fetcher' | 'children'> & { intake: IntakeTokens; shares: ShareStore } {
  return {
    intake: createIntakeTokens(db),
    shares: createShareStore(db),
    listings: {
      upsert: (properties, options) => upsertListings(db, properties, options),
      search: (query) => searchListings(db, query),
      findPagesParsedSince: (urls, hours) => findPagesParsedSince(db, urls, hours),
      history: (urls) => listingsHistory(db, urls),
    },
    sessions: {
      async find(sessionId) {
        const result = await sql<SessionRecord>`SELECT * FROM housler.sessions WHERE session_id = ${sessionId}`.execute(db)
        return result.rows[0]
      },
      async saveTarget(sessionId, url, target) {
        await sql`INSERT INTO housler.sessions (session_id, target_url, target) VALUES (${sessionId}, ${url}, ${JSON.stringify(target)}::jsonb)
          ON CONFLICT (session_id) DO UPDATE SET target_url = excluded.target_url, target = excluded.target,
            comparables = NULL, report_id = NULL, added_analogs = '[]', excluded_urls = '{}', updated_at = now()`.execute(db)
      },
      async saveComparables(sessionId, comparables) {
        await sql`INSERT INTO housler.sessions (session_id, comparables) VALUES (${sessionId}, ${JSON.stringify(comparables)}::jsonb)
          ON CONFLICT (session_id) DO UPDATE SET comparables = excluded.comparables, updated_at = now()`.execute(db)
      },
      async addAnalog(sessionId, analog) {
        await sql`INSERT INTO housler.sessions (session_id, added_analogs) VALUES (${sessionId}, ${JSON.stringify([analog])}::jsonb)
          ON CONFLICT (session_id) DO UPDATE SET
            added_analogs = (SELECT coalesce(jsonb_agg(a), '[]') FROM jsonb_array_elements(housler.sessions.added_analogs) a
              WHERE a->>'url' <> ${analog.url}) || excluded.added_analogs,
            excluded_urls = array_remove(housler.sessions.excluded_urls, ${analog.url}), updated_at = now()`.execute(db)
      },
      async saveExcluded(sessionId, urls) {
        await sql`INSERT INTO housler.sessions (session_id, excluded_urls) VALUES (${sessionId}, ${[...urls]}::text[])
          ON CONFLICT (session_id) DO UPDATE SET excluded_urls = excluded.excluded_urls, updated_at = now()`.execute(db)
      },
      async saveReport(sessionId, reportId) {
        await sql`INSERT INTO housler.sessions (session_id, report_id) VALUES (${sessionId}, ${reportId})
          ON CONFLICT (session_id) DO UPDATE SET report_id = excluded.report_id, updated_at = now()`.execute(db)
      },
    },
    reports: {
      async save(report: StoredReport) {
        await sql`INSERT INTO housler.reports (id, job_id, session_id, valuation, html, markdown)
          VALUES (${report.id}, ${report.job_id}, ${report.session_id}, ${JSON.stringify(report.valuation)}::jsonb, ${report.html}, ${report.markdown})`.execute(db)
      },
      async find(id) {
        const result = await sql<StoredReport>`SELECT id, job_id, session_id, valuation, html, markdown FROM housler.reports WHERE id = ${id}`.execute(db)
        return result.rows[0]
      },
    },
  }
}
