import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { nodeFlagsOf } from '../test/helpers/npm-scripts.ts'

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))

export const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((x, y) => x - y)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((x, y) => x - y)
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until true or the deadline; returns whether it became true. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(everyMs)
  }
  return false
}

export function withDatabase(url: string, name: string): string {
  const next = new URL(url)
  next.pathname = `/${name}`
  return next.toString()
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0`)
  } finally {
    await client.end()
  }
  return withDatabase(adminUrl, name)
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
  } finally {
    await client.end()
  }
}

export async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

export type Child = {
  process: ChildProcess
  send(message: object): void
  next<T = any>(type: string, timeoutMs?: number): Promise<T>
  on(type: string, handler: (message: any) => void): void
  stop(): Promise<{ rssPeak: number }>
}

/**
 * Forks bench/child.ts; `next(type)` resolves on the next IPC message of that type. A child's stdout
 * (the API's request log) goes nowhere; stderr is kept. BENCH_CPU_PROF=api,drain writes a
 * --cpu-prof profile of those roles to bench/results/prof/.
 */
/** The V8 flags of the npm scripts: every bench child, ours and the peers', runs with them. */
export const SERVICE_NODE_FLAGS = nodeFlagsOf('worker')

export function spawnChild(args: string[], execArgv: string[] = SERVICE_NODE_FLAGS): Child {
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').includes(args[0])
  const prof = profiled ? ['--cpu-prof', `--cpu-prof-dir=${path.join(BENCH_DIR, 'results', 'prof')}`] : []
  const child = fork(path.join(BENCH_DIR, 'child.ts'), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [...execArgv, ...prof] })
  const handlers = new Map<string, Array<(message: any) => void>>()
  child.on('message', (message: any) => {
    for (const handler of handlers.get(message.type) ?? []) handler(message)
  })
  const on = (type: string, handler: (message: any) => void) => handlers.set(type, [...(handlers.get(type) ?? []), handler])
  const next = <T>(type: string, timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${args.join(' ')}: no "${type}" within ${timeoutMs} ms`)), timeoutMs)
      const handler = (message: T) => {
        clearTimeout(timer)
        handlers.set(type, (handlers.get(type) ?? []).filter((h) => h !== handler))
        resolve(message)
      }
      on(type, handler)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`child ${args.join(' ')} exited with ${code}`))
      })
    })
  return {
    process: child,
    send: (message) => child.send(message),
    next,
    on,
    async stop() {
      if (child.exitCode !== null) return { rssPeak: NaN }
      const stopped = next<{ rssPeak: number }>('stopped', 15_000).catch(() => ({ rssPeak: NaN }))
      child.send({ type: 'stop' })
      const result = await stopped
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))
      return result
    },
  }
}

export type LoadResult = {
  requests: number
  errors: number
  seconds: number
  rps: number
  p50: number
  p99: number
  statuses: Record<number, number>
  latencies?: number[]
}

/**
 * A closed-loop HTTP load generator: `connections` keep-alive sockets, each sending its next
 * request when the previous answer is read, until `total` requests or `durationMs` pass.
 */
export async function httpLoad(options: {
  port: number
  connections: number
  total?: number
  durationMs?: number
  request: (i: number) => { method: string; path: string; body?: string }
  onBody?: (status: number, body: string) => void
  keepLatencies?: boolean
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections })
  const latencies: number[] = []
  const statuses: Record<number, number> = {}
  let issued = 0
  let errors = 0
  const started = performance.now()
  const deadline = options.durationMs ? started + options.durationMs : Infinity
  const more = () => (options.total === undefined || issued < options.total) && performance.now() < deadline
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const spec = options.request(i)
      const t0 = performance.now()
      const req = http.request(
        {
          agent,
          host: '127.0.0.1',
          port: options.port,
          method: spec.method,
          path: spec.path,
          headers: spec.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(spec.body) } : {},
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk) => chunks.push(chunk))
          res.on('end', () => {
            latencies.push(performance.now() - t0)
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1
            if (options.onBody) options.onBody(res.statusCode ?? 0, Buffer.concat(chunks).toString())
            resolve()
          })
        },
      )
      req.on('error', () => {
        errors++
        resolve()
      })
      req.end(spec.body)
    })
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (more()) await one(issued++)
    }),
  )
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    ...(options.keepLatencies ? { latencies } : {}),
  }
}

/** Runs `count` calls of `fn` with at most `inFlight` at once; returns calls per second. */
export async function inFlight(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++)
    }),
  )
  return count / ((performance.now() - started) / 1000)
}

/** SIGTERM, then the exit (at once when the process has exited already). */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** Waits until the service on `port` answers /readyz (a database it can reach), or throws after 60 s. */
export async function waitReady(port: number, what: string): Promise<void> {
  const ready = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true, 60_000, 100)
  if (!ready) throw new Error(`${what} did not become ready within 60 s`)
}

/** A port nothing listens on right now (the OS's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
