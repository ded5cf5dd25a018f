import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { loadConfig, type Config } from '../../src/config.ts'
import { createDb, type Db } from '../../src/db/index.ts'
import { createApp } from '../../src/http/app.ts'
import { createStores } from '../../src/store/index.ts'
import { createSilentLogger, createLogger } from '../../src/log.ts'
import { createQueue, type Queue, type WorkerEvents, type Worker } from '../../src/queue/index.ts'
import type { TaskDefinition } from '../../src/tasks/types.ts'
import { createTestDatabase } from './postgres.ts'

export type TestService = {
  baseUrl: string
  config: Config
  db: Db
  queue: Queue
  worker?: Worker
  databaseUrl: string
  app: ReturnType<typeof createApp>
  close(): Promise<void>
}

/** The real service (real Postgres, real pg-boss, real HTTP on an ephemeral port) in this process. */
export async function startTestService(options: {
  tasks: readonly TaskDefinition[]
  env?: Record<string, string>
  deps?: Record<string, unknown> | ((config: Config, db: Db) => object)
  /** Serve the product routes (pipeline, sessions, reports) from the real stores. */
  domain?: boolean
  worker?: boolean | { concurrency?: number; events?: WorkerEvents }
  databaseUrl?: string
}): Promise<TestService> {
  const database = options.databaseUrl ? undefined : await createTestDatabase()
  const databaseUrl = options.databaseUrl ?? database!.url
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...options.env })
  const log = process.env.TEST_LOG ? createLogger({ level: 'debug' }) : createSilentLogger()
  const db = createDb({ url: databaseUrl, poolSize: config.dbPoolSize, readUrl: config.databaseReadUrl })
  const queue = await createQueue({ config, db, url: databaseUrl, tasks: options.tasks, deps: typeof options.deps === 'function' ? (options.deps(config, db) as Record<string, unknown>) : { config, ...options.deps }, log })
  const app = createApp({ config, queue, log, readers: options.domain ? createStores(db.db) : undefined })
  const workerOptions = typeof options.worker === 'object' ? options.worker : {}
  const worker = options.worker === false ? undefined : queue.startWorker(workerOptions)
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    db,
    queue,
    worker,
    databaseUrl,
    app,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await queue.stop()
      await db.destroy()
      await database?.drop()
    },
  }
}

/** Polls the real status endpoint until the job reaches one of `statuses` (bounded). */
export async function waitForStatus(
  baseUrl: string,
  jobId: string,
  statuses: string[],
  timeoutMs = 20_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs
  let last: Record<string, any> = {}
  while (Date.now() < deadline) {
    const response = await fetch(`${baseUrl}/api/tasks/status/${jobId}`)
    last = await response.json()
    if (statuses.includes(last.status)) return last
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`job ${jobId} did not reach ${statuses.join('/')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`)
}
