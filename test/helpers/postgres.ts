import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { withDatabase } from './database-url.ts'

export { withDatabase }

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('adminUrl') })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

// Set by the leak check (test/helpers/leak-check.ts) when a test of this file fails.
let failed = false
export function markTestFailed(): void {
  failed = true
}

/**
 * A fresh database cloned from the migrated template: one per test file. `drop()` keeps it, and
 * prints its URL, when a test of the file failed, so its rows can be inspected.
 */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const template = inject('templateDb')
  const name = `housler_test_${template.slice('housler_tpl_'.length)}_${randomBytes(5).toString('hex')}`
  await withAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  const url = withDatabase(inject('adminUrl'), name)
  return {
    url,
    name,
    async drop() {
      if (failed) {
        console.log(`kept the database of a failed test for inspection: psql ${url}`)
        return
      }
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    },
  }
}
