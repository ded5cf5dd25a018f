import { sql, type Kysely } from 'kysely'

// Frozen in time: never import from src/, never edit after release; fix with a new migration.
export async function up(db: Kysely<any>): Promise<void> {
  // Each worker reports its own proxies' counters with its heartbeat; credentials never reach this column.
  await sql`ALTER TABLE housler._workers ADD COLUMN proxy_health jsonb NOT NULL DEFAULT '[]'`.execute(db)
  await sql`
    CREATE VIEW housler.proxy_health AS
    SELECT
      p.proxy,
      count(*)::int AS workers,
      sum(p.successes)::bigint AS successes,
      sum(p.failures)::bigint AS failures,
      sum(p.captchas)::bigint AS captchas,
      round(sum(r.latency_ms * p.successes) / nullif(sum(p.successes) FILTER (WHERE r.latency_ms IS NOT NULL), 0))::int AS latency_ms,
      max(r.cooling_until) FILTER (WHERE r.cooling_until > now()) AS cooling_until,
      count(*) FILTER (WHERE r.cooling_until > now())::int AS workers_cooling
    FROM housler.workers w
    JOIN housler._workers raw ON raw.id = w.id
    CROSS JOIN LATERAL jsonb_to_recordset(raw.proxy_health)
      AS p(proxy text, successes bigint, failures bigint, captchas bigint, "latencyMs" numeric, "coolingUntil" timestamptz)
    CROSS JOIN LATERAL (SELECT p."latencyMs" AS latency_ms, p."coolingUntil" AS cooling_until) AS r
    WHERE w.state <> 'dead'
    GROUP BY p.proxy
  `.execute(db)
  await sql`COMMENT ON VIEW housler.proxy_health IS 'Health of each FETCH_PROXIES proxy, summed over the live workers since they started: successes, failures, captchas (blocks and challenges), mean latency, cool-down. proxy is scheme://host:port, never the credentials.'`.execute(db)
  const columns: Record<string, string> = {
    proxy: 'scheme://host:port of the proxy (credentials are never stored)',
    workers: 'Live workers that use it',
    successes: 'Pages fetched through it',
    failures: 'Attempts that failed through it (network, proxy refusal)',
    captchas: 'Pages the site answered with a captcha, block or challenge through it',
    latency_ms: 'Mean duration of its successful attempts',
    cooling_until: 'Latest end of a cool-down still running on some worker; null when none',
    workers_cooling: 'Workers on which it is cooling down now',
  }
  for (const [column, text] of Object.entries(columns)) {
    await sql`COMMENT ON COLUMN ${sql.id('housler', 'proxy_health', column)} IS ${sql.lit(text)}`.execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW housler.proxy_health`.execute(db)
  await sql`ALTER TABLE housler._workers DROP COLUMN proxy_health`.execute(db)
}
