import net from 'node:net'
import pg from 'pg'
import type { Runner, WorkerUtils } from 'graphile-worker'
import type { Worker as BullWorker } from 'bullmq'
import { openRuntime } from '../src/runtime.ts'
import { BENCH_TASKS, hooks } from './tasks.ts'

/** One queue system under test, driven the same way by every scenario. */
export type Client = {
  send(data: object): Promise<void>
  insert(datas: object[]): Promise<void>
  /** Starts consuming; `variant` picks batch/concurrency/progress settings. */
  work(variant: string): Promise<void>
  /** Jobs not yet completed (for the end of a drain). */
  remaining(): Promise<number>
  close(): Promise<void>
}

export type SystemName = 'ours' | 'pgboss' | 'pgboss-listen' | 'graphile' | 'bullmq' | 'bullmq-pg'

export const REDIS = { host: '127.0.0.1', port: 6379 }

export function redisAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS.port, REDIS.host)
    socket.setTimeout(500)
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => (socket.destroy(), resolve(false)))
  })
}

const KIND = (variant: string) => (variant.startsWith('progress') ? 'progress5' : 'noop')

/** `logLevel` 'info' is what a deployed API runs with (one JSON line per request, to stdout). */
export async function openOurs(url: string, options: { supervise?: boolean; concurrency?: number; logLevel?: 'info' | 'silent' } = {}) {
  const env = {
    DATABASE_URL: url,
    LOG_LEVEL: options.logLevel ?? 'silent',
    WORKER_CONCURRENCY: String(options.concurrency ?? 16),
    DB_POOL_SIZE: '10',
    // The bench is the only client: the per-client rate limit would measure itself.
    RATE_LIMIT_PER_MINUTE: '0',
  }
  // The same composition root as the server and the worker, with the bench's task kinds.
  const runtime = await openRuntime({ name: 'bench', env, tasks: BENCH_TASKS, supervise: options.supervise ?? true })
  const { config, log, db, queue, metrics } = runtime
  return { config, log, db, queue, metrics, close: () => runtime.close() }
}

/**
 * Ours with the enqueue in one runtime and the worker in another (two composition roots in this process,
 * each with its own pool and LISTEN): the path of a split deployment (`npm run api` + `npm run worker`),
 * where no claim on enqueue can happen and a job is woken by NOTIFY and claimed by the worker's fetch.
 */
export async function openOursSplit(url: string): Promise<Client> {
  const producer = await openOurs(url)
  return oursClient(producer, await openOurs(url, { supervise: false }), 'noop')
}

type Ours = Awaited<ReturnType<typeof openOurs>>

/** Sends through `producer`'s queue, works in `consumer`'s (the same runtime, or a second one). */
function oursClient(producer: Ours, consumer: Ours, queueName: string): Client {
  let kind = queueName
  return {
    send: (data) => producer.queue.enqueue({ kind, payload: data }).then(() => {}),
    insert: (datas) => producer.queue.enqueueMany(datas.map((payload) => ({ kind, payload }))).then(() => {}),
    async work(variant) {
      kind = KIND(variant)
      consumer.queue.startWorker({ kinds: [kind], concurrency: 16 })
    },
    remaining: async () =>
      Number((await producer.db.pool.query(`SELECT count(*) FROM pgboss.job WHERE name = ANY($1) AND state < 'completed'`, [['noop', 'progress5']])).rows[0].count),
    async close() {
      if (consumer !== producer) await consumer.close()
      await producer.close()
    },
  }
}

export async function openSystem(system: SystemName, url: string, queueName = 'noop'): Promise<Client> {
  if (system === 'ours') {
    const ours = await openOurs(url)
    return oursClient(ours, ours, queueName)
  }
  if (system === 'pgboss' || system === 'pgboss-listen') {
    const listen = system === 'pgboss-listen'
    const { PgBoss } = await import('pg-boss')
    const boss = new PgBoss({ connectionString: url, max: 10, useListenNotify: listen, schedule: false, openTelemetry: { enabled: false } } as object)
    boss.on('error', () => {})
    await boss.start()
    await boss.createQueue(queueName, listen ? ({ notify: true } as object) : {})
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    return {
      send: (data) => boss.send(queueName, data).then(() => {}),
      insert: (datas) => boss.insert(queueName, datas.map((data) => ({ data }))).then(() => {}),
      async work(variant) {
        // b1: one job per handler, 16 slots; bN: batches of N with continuous fetch while batches come back full.
        const batchSize = Number(variant.replace(/^b/, '')) || 1
        const options =
          batchSize === 1
            ? { batchSize: 1, localConcurrency: 16, pollingIntervalSeconds: 0.5 }
            : { batchSize, localConcurrency: 1, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true }
        await boss.work(queueName, options as object, async (jobs: Array<{ data: object }>) => {
          for (const job of jobs) hooks.onRun(job.data)
        })
      },
      remaining: async () => Number((await pool.query(`SELECT count(*) FROM pgboss.job WHERE name = $1 AND state < 'completed'`, [queueName])).rows[0].count),
      async close() {
        await boss.stop({ graceful: false, close: true, timeout: 1000 }).catch(() => {})
        await pool.end()
      },
    }
  }
  // Peers load lazily, so a child measuring our worker's memory carries none of them.
  if (system === 'graphile') {
    const { Logger: GraphileLogger, makeWorkerUtils, run: runGraphile } = await import('graphile-worker')
    const silentGraphileLogger = new GraphileLogger(() => () => {})
    const utils: WorkerUtils = await makeWorkerUtils({ connectionString: url })
    await utils.migrate()
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    let runner: Runner | undefined
    return {
      send: (data) => utils.addJob(queueName, data).then(() => {}),
      insert: (datas) => utils.addJobs(datas.map((payload) => ({ identifier: queueName, payload }))).then(() => {}),
      async work() {
        runner = await runGraphile({
          connectionString: url,
          concurrency: 16,
          noHandleSignals: true,
          pollInterval: 500,
          taskList: { [queueName]: async (payload) => hooks.onRun(payload as object) },
          logger: silentGraphileLogger,
        })
      },
      remaining: async () => Number((await pool.query(`SELECT count(*) FROM graphile_worker._private_jobs`)).rows[0].count),
      async close() {
        await runner?.stop()
        await utils.release()
        await pool.end()
      },
    }
  }
  // BullMQ 6.7, on Redis (its native backend, ioredis) or on its PostgreSQL backend. The backend
  // factory is passed to each constructor, never set process-wide, so both columns can run in one process.
  const { Queue: BullQueue, Worker: BullWorker, createPostgresBackend, createRedisBackend } = await import('bullmq')
  const onRedis = system === 'bullmq'
  const factory = (onRedis ? createRedisBackend : createPostgresBackend) as never
  // Redis is shared by every run: a prefix per database keeps runs apart; obliterate() cleans up.
  const connection = (onRedis ? { ...REDIS, maxRetriesPerRequest: null } : { connectionString: url, migrate: true }) as never
  const prefix = onRedis ? { prefix: `bench:${new URL(url).pathname.slice(1)}` } : {}
  const queue = new BullQueue(queueName, { connection, ...prefix }, factory)
  let worker: BullWorker | undefined
  return {
    send: (data) => queue.add('noop', data, { removeOnComplete: true }).then(() => {}),
    insert: (datas) => queue.addBulk(datas.map((data) => ({ name: 'noop', data, opts: { removeOnComplete: true } }))).then(() => {}),
    async work() {
      worker = new BullWorker(queueName, async (job) => hooks.onRun(job.data), { connection, ...prefix, concurrency: 16 }, factory)
      await worker.waitUntilReady()
    },
    async remaining() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')
      return Object.values(counts).reduce((a, b) => a + b, 0)
    },
    async close() {
      await worker?.close()
      if (onRedis) await queue.obliterate({ force: true }).catch(() => {})
      await queue.close()
    },
  }
}
