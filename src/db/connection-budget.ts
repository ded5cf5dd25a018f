/** Server connections one process may open: its LISTEN session and its pool. */
export type ConnectionBudget = { listen: 0 | 1; pool: number; total: number }

// An API process's pool: status reads take well under a millisecond, so four connections serve
// thousands of polls a second; enqueues are group-committed onto one of them.
const API_POOL = 4

/**
 * A worker with concurrency c needs one connection for its fetches, heartbeats and bookkeeping, and
 * one more per four slots for completions and progress (both grouped, so slots share connections).
 * `dbPoolSize` (DB_POOL_SIZE) overrides the sum and counts the LISTEN connection too.
 */
export function connectionBudget(options: {
  api: boolean
  worker: boolean
  concurrency: number
  listen: boolean
  dbPoolSize?: number
}): ConnectionBudget {
  const listen = options.listen ? 1 : 0
  const derived = (options.api ? API_POOL : 1) + (options.worker ? Math.ceil(options.concurrency / 4) : 0)
  const pool = options.dbPoolSize === undefined ? derived : Math.max(1, options.dbPoolSize - listen)
  return { listen, pool, total: listen + pool }
}
