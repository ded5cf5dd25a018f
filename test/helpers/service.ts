import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import type { Config } from '../../src/config.ts'
import type { Db } from '../../src/db/index.ts'
import { createApp } from '../../src/http/app.ts'
import { createPdfRenderer } from '../../src/pdf/index.ts'
import type { Queue, WorkerEvents, Worker } from '../../src/queue/index.ts'
import { openRuntime, type Runtime } from '../../src/runtime.ts'
import { createStores } from '../../src/store/index.ts'
import type { TaskDefinition } from '../../src/tasks/types.ts'
import { createTestDatabase } from './postgres.ts'
import { until } from './processes.ts'

export type TestService = {
  baseUrl: string
  config: Config
  db: Db
  queue: Queue
  runtime: Runtime
  worker?: Worker
  databaseUrl: string
  app: ReturnType<typeof createApp>
  close(): Promise<void>
}

/** TEST_LOG=1 prints the service's logs; otherwise tests stay quiet. */
const LOG_LEVEL = process.env.TEST_LOG ? 'debug' : 'silent'

/**
 * The runtime the production roots use (src/runtime.ts: config, database, pg-boss, migrations) on a
 * database of this test file's own, unless `databaseUrl` names one.
 */
export async function openTestRuntime(options: {
  tasks: readonly TaskDefinition[]
  env?: Record<string, string>
  deps?: Record<string, unknown> | ((config: Config, db: Db) => object)
  databaseUrl?: string
  supervise?: boolean
  /** What the process does, which sizes its pool; default both, as a test service serves HTTP and runs workers. */
  serves?: { api?: boolean; worker?: boolean }
}): Promise<Runtime & { databaseUrl: string }> {
  const database = options.databaseUrl ? undefined : await createTestDatabase()
  const databaseUrl = options.databaseUrl ?? database!.url
  const { deps } = options
  try {
    const runtime = await openRuntime({
      name: 'test',
      env: { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...options.env },
      tasks: options.tasks,
      deps: typeof deps === 'function' ? deps : (config) => ({ config, ...deps }),
      supervise: options.supervise,
      logLevel: LOG_LEVEL,
      serves: options.serves ?? { api: true, worker: true },
    })
    return {
      ...runtime,
      databaseUrl,
      async close() {
        await runtime.close()
        await database?.drop()
      },
    }
  } catch (e) {
    await database?.drop()
    throw e
  }
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
  const runtime = await openTestRuntime(options)
  const { config, db, queue, metrics, log } = runtime
  // The report PDFs' Chromium, started on the first PDF, closed with the service.
  const pdf = createPdfRenderer({ executablePath: config.browserExecutablePath, log })
  const app = createApp({ config, queue, metrics, log, readers: options.domain ? createStores(db.db) : undefined, pdf })
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
    runtime,
    worker,
    databaseUrl: runtime.databaseUrl,
    app,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pdf.close()
      await runtime.close()
    },
  }
}

/** Polls the real status endpoint until the job reaches one of `statuses` (bounded). */
export async function waitForStatus(
  baseUrl: string,
  jobId: string,
  statuses: string[],
  timeoutMs = 20_000,
  headers: Record<string, string> = {},
): Promise<Record<string, any>> {
  let last: Record<string, any> = {}
  return until(
    `job ${jobId} to reach ${statuses.join('/')}`,
    async () => {
      const response = await fetch(`${baseUrl}/api/tasks/status/${jobId}`, { headers })
      last = await response.json()
      return statuses.includes(last.status) ? last : undefined
    },
    timeoutMs,
    25,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last: ${JSON.stringify(last)}`)
  })
}
