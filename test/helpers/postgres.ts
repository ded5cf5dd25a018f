import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('adminUrl') })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A fresh database cloned from the migrated template: one per test file. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const template = inject('templateDb')
  const name = `housler_test_${template.slice('housler_tpl_'.length)}_${randomBytes(5).toString('hex')}`
  await withAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  return {
    url: withDatabase(inject('adminUrl'), name),
    name,
    drop: () => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}
