import { createHash } from 'node:crypto'
import type pg from 'pg'

/** What pg-boss accepts as `db` in a call's options. */
export type SqlAdapter = { executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }> }

/**
 * pg-boss sends its SQL unnamed, so Postgres parses and plans the fetch and complete statements on
 * every call — about as much database CPU as running them (pg_stat_statements: fetch 0.27 ms plan
 * vs 0.29 ms exec). Through this adapter a statement with parameters runs as a named prepared
 * statement keyed by a hash of its text, planned once per connection — with or without parameters:
 * the fetch has none (pg-boss puts the queue name and batch size into the text). The set of texts
 * is small; past `maxStatements` distinct texts the rest run unnamed rather than growing every
 * connection's statement cache. Text with a `;` may be several statements, which cannot be prepared.
 * `rewrite` (pg-boss-internals.ts) may change a text before it runs.
 */
export function createPreparedAdapter(pool: pg.Pool, options: { rewrite?: (text: string) => string; maxStatements?: number } = {}): SqlAdapter {
  const { rewrite = (text: string) => text, maxStatements = 256 } = options
  const names = new Map<string, string>()
  return {
    executeSql(original, values) {
      const text = rewrite(original)
      if (text.includes(';')) return pool.query(text, values)
      let name = names.get(text)
      if (name === undefined && names.size < maxStatements) {
        name = `hq_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`
        names.set(text, name)
      }
      return name ? pool.query({ name, text, values }) : pool.query(text, values)
    },
  }
}
