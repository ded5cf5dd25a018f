import pg from 'pg'

/** How the service reaches Postgres: straight, or through a pooler that hands out a server per transaction. */
export type PoolerMode = 'direct' | 'transaction'

const PROBE_SETTING = 'housler.pooler_probe'

/**
 * Tells PgBouncer (and poolers like it) from Postgres: Postgres applies a `-c` option sent at
 * start-up to the session, a pooler either refuses the parameter (PgBouncer: "unsupported startup
 * parameter") or drops it (ignore_startup_parameters). Either way sessions are not ours to keep, so
 * the service runs as under transaction pooling.
 */
export async function detectPooler(url: string): Promise<PoolerMode> {
  const client = new pg.Client({ connectionString: url, options: `-c ${PROBE_SETTING}=on`, connectionTimeoutMillis: 5000 })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (e) {
    if (/unsupported startup parameter/i.test((e as Error).message ?? '')) return 'transaction'
    throw e
  }
  try {
    const { rows } = await client.query<{ value: string | null }>('SELECT current_setting($1, true) AS value', [PROBE_SETTING])
    return rows[0]?.value === 'on' ? 'direct' : 'transaction'
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * A client that sends every statement unnamed. Under transaction pooling a statement prepared on one
 * server connection may be executed on another, which fails ("prepared statement does not exist");
 * unnamed statements are parsed with each execution, on whichever server runs it.
 */
export class UnnamedStatementClient extends pg.Client {
  query(...args: any[]): any {
    const [config] = args
    if (config !== null && typeof config === 'object' && typeof config.name === 'string' && typeof config.submit !== 'function') {
      const { name: _name, ...unnamed } = config
      args[0] = unnamed
    }
    return (super.query as (...rest: any[]) => any)(...args)
  }
}
