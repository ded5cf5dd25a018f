import { createHash, randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/index.ts'

export type IntakeSubmission = { job_id: string; url: string; received_at: string }

/** Session tokens of the "send this page" bookmarklet; a token is shown once and kept only as its hash. */
export type IntakeTokens = {
  issue(sessionId: string, ttlSeconds: number): Promise<{ token: string; expires_at: string }>
  /** True when the token was issued for this very session and has not expired. */
  verify(sessionId: string, token: string): Promise<boolean>
  record(token: string, jobId: string, url: string): Promise<void>
  /** The last page any of the session's tokens sent. */
  latest(sessionId: string): Promise<IntakeSubmission | undefined>
}

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex')

export function createIntakeTokens(db: Kysely<Database>): IntakeTokens {
  return {
    async issue(sessionId, ttlSeconds) {
      const token = randomBytes(24).toString('base64url')
      const result = await sql<{ expires_at: Date }>`
        INSERT INTO housler.intake_tokens (token_hash, session_id, expires_at)
        VALUES (${hashToken(token)}, ${sessionId}, now() + make_interval(secs => ${ttlSeconds}))
        RETURNING expires_at`.execute(db)
      // Expired tokens are useless; dropping them here keeps the table small without a cron.
      await sql`DELETE FROM housler.intake_tokens WHERE expires_at < now() - interval '1 day'`.execute(db)
      return { token, expires_at: new Date(result.rows[0].expires_at).toISOString() }
    },
    async verify(sessionId, token) {
      const result = await sql<{ ok: boolean }>`
        SELECT true AS ok FROM housler.intake_tokens
        WHERE token_hash = ${hashToken(token)} AND session_id = ${sessionId} AND expires_at > now()`.execute(db)
      return result.rows.length > 0
    },
    async record(token, jobId, url) {
      await sql`UPDATE housler.intake_tokens SET last_job_id = ${jobId}, last_url = ${url}, last_used_at = now()
        WHERE token_hash = ${hashToken(token)}`.execute(db)
    },
    async latest(sessionId) {
      const result = await sql<{ job_id: string; url: string; received_at: Date }>`
        SELECT last_job_id AS job_id, last_url AS url, last_used_at AS received_at FROM housler.intake_tokens
        WHERE session_id = ${sessionId} AND last_job_id IS NOT NULL
        ORDER BY last_used_at DESC LIMIT 1`.execute(db)
      const row = result.rows[0]
      return row ? { job_id: row.job_id, url: row.url, received_at: new Date(row.received_at).toISOString() } : undefined
    },
  }
}
