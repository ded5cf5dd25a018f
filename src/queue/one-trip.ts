import type pg from 'pg'

/**
 * `statements` as ONE transaction sent in ONE round trip: node-postgres's pipeline mode
 * (https://node-postgres.com/features/pipelining), switched on for this checkout of a pooled session
 * only, sends BEGIN, the statements and COMMIT without waiting for each answer. Under READ COMMITTED
 * each statement takes its own snapshot, so a statement after an advisory lock sees what the lock's
 * previous holder committed. Throws the first failure (the transaction then rolled back). Without
 * pipelining (another pg) the same queries run one after another: slower, never different.
 */
export async function inOneTrip(pool: pg.Pool, statements: pg.QueryConfig[]): Promise<pg.QueryResult[]> {
  const client = (await pool.connect()) as pg.PoolClient & { pipeline: boolean }
  let broken = false
  client.pipeline = true
  try {
    const sent = [client.query('BEGIN'), ...statements.map((statement) => client.query(statement)), client.query('COMMIT')]
    const outcomes = await Promise.allSettled(sent)
    const failure = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failure) throw failure.reason
    return outcomes.slice(1, -1).map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult>).value)
  } catch (e) {
    // A session whose transaction failed part-way never goes back to the pool.
    broken = true
    throw e
  } finally {
    client.pipeline = false
    client.release(broken)
  }
}
