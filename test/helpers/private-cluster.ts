// A PostgreSQL cluster (and PgBouncer) of a test's own: its own data directory, port and settings
// (max_connections, streaming replicas), independent of the shared server the other tests use.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort, until } from './processes.ts'

const run = promisify(execFile)
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'
const PGBOUNCER = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer'

/** The role the service connects as: not a superuser, so the reserved slots stay for the test's own probes. */
export const SERVICE_ROLE = 'housler'
export const SERVICE_DATABASE = 'housler'

// Postgres and PgBouncer refuse to run as root: when we are root they run as the postgres account.
async function account(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim())
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim())
  return { uid, gid }
}

async function ownDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  const owner = await account()
  if (owner) await chown(dir, owner.uid, owner.gid)
  return dir
}

async function runAs(file: string, args: string[]): Promise<string> {
  const owner = await account()
  const { stdout } = await run(file, args, { ...(owner ?? {}), maxBuffer: 10_000_000 })
  return stdout
}

export type PrivateCluster = {
  port: number
  /** The data directory; the server log is `${dir}.log`. */
  dir: string
  /** A superuser URL (the test's probes): it may use the superuser-reserved slots. */
  adminUrl(database?: string): string
  /** The service's URL: the non-superuser SERVICE_ROLE on SERVICE_DATABASE. */
  serviceUrl(): string
  /** A streaming replica of this cluster, made by pg_basebackup -R and started on its own port. */
  startReplica(): Promise<PrivateCluster>
  /** SIGKILL to the postmaster and every backend at once: shared memory (WAL buffers too) is lost, what the kernel holds is kept. */
  crash(): Promise<void>
  /** Starts the server again on its data directory and port (after crash(): crash recovery replays the WAL). */
  restart(): Promise<void>
  stop(): Promise<void>
}

async function startServer(dir: string, port: number, settings: Record<string, string | number>): Promise<void> {
  const options = [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=${dir}`,
    ...Object.entries(settings).map(([key, value]) => `-c ${key}=${value}`),
  ].join(' ')
  // The log sits beside the data directory, not in it: a base backup would copy it into the replica.
  await runAs(`${BIN}/pg_ctl`, ['-D', dir, '-o', options, '-l', `${dir}.log`, '-w', '-t', '60', 'start'])
}

function clusterAt(dir: string, port: number, isPrimary: boolean, settings: Record<string, string | number>): PrivateCluster {
  const adminUrl = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`
  return {
    port,
    dir,
    adminUrl,
    serviceUrl: () => `postgres://${SERVICE_ROLE}@127.0.0.1:${port}/${SERVICE_DATABASE}`,
    async startReplica() {
      if (!isPrimary) throw new Error('replicas are made from the primary')
      const replicaDir = await ownDir('housler-replica-')
      const replicaPort = await freePort()
      await runAs(`${BIN}/pg_basebackup`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'])
      await startServer(replicaDir, replicaPort, settings)
      return clusterAt(replicaDir, replicaPort, false, settings)
    },
    async crash() {
      const postmaster = Number((await readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)])
      const pids = [postmaster, ...stdout.split('\n').map((line) => Number(line.trim())).filter((pid) => pid > 0)]
      for (const pid of pids) process.kill(pid, 'SIGKILL')
      await until('every process of the crashed server to be gone', () => (pids.every((pid) => !alive(pid)) ? true : undefined), 10_000, 20)
      // Postgres takes a zombie's pid for a live postmaster, and a container's pid 1 may never reap it:
      // the dead server's lock files go (the data directory's and its socket's).
      for (const file of ['postmaster.pid', `.s.PGSQL.${port}.lock`, `.s.PGSQL.${port}`]) await rm(path.join(dir, file), { force: true })
    },
    restart: () => startServer(dir, port, settings),
    async stop() {
      await runAs(`${BIN}/pg_ctl`, ['-D', dir, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
      await rm(`${dir}.log`, { force: true })
    },
  }
}

/** A process that has not exited (a zombie has: nothing may reap it in a container without init). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/**
 * initdb + start on a free port, trust auth on loopback, fsync off (a test's data need not survive
 * a power cut). Creates SERVICE_ROLE owning SERVICE_DATABASE.
 */
export async function startPrivateCluster(settings: Record<string, string | number> = {}): Promise<PrivateCluster> {
  const dir = await ownDir('housler-cluster-')
  const port = await freePort()
  await runAs(`${BIN}/initdb`, ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
  const all = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', wal_level: 'replica', max_wal_senders: 4, ...settings }
  await startServer(dir, port, all)
  const cluster = clusterAt(dir, port, true, all)
  const admin = new pg.Client({ connectionString: cluster.adminUrl() })
  await admin.connect()
  try {
    await admin.query(`CREATE ROLE ${SERVICE_ROLE} LOGIN`)
    await admin.query(`CREATE DATABASE ${SERVICE_DATABASE} OWNER ${SERVICE_ROLE}`)
  } finally {
    await admin.end()
  }
  return cluster
}

export type Bouncer = { port: number; url(): string; stop(): Promise<void>; output(): string }

/** The deployed PgBouncer recipe (docker-compose mounts the same file). */
export const PGBOUNCER_RECIPE = path.join(import.meta.dirname, '../../deploy/pgbouncer.ini')

/** The [pgbouncer] settings of an ini file (`key = value` lines; `;` and `#` start comments). */
export async function readPgBouncerSettings(file = PGBOUNCER_RECIPE): Promise<Record<string, string>> {
  const settings: Record<string, string> = {}
  let section = ''
  for (const raw of (await readFile(file, 'utf8')).split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) section = header[1]
    else if (section === 'pgbouncer') {
      const [key, ...value] = line.split('=')
      settings[key.trim()] = value.join('=').trim()
    }
  }
  return settings
}

/**
 * PgBouncer in front of `cluster` for SERVICE_ROLE, run with the deployed recipe (deploy/pgbouncer.ini):
 * only where it listens, how clients sign in and where it logs are this test's own.
 */
export async function startPgBouncer(cluster: PrivateCluster): Promise<Bouncer> {
  const dir = await ownDir('housler-bouncer-')
  const port = await freePort()
  const config = {
    ...(await readPgBouncerSettings()),
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: path.join(dir, 'users.txt'),
    logfile: path.join(dir, 'pgbouncer.log'),
  }
  await writeFile(config.auth_file, `"${SERVICE_ROLE}" ""\n`)
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    `[databases]\n${SERVICE_DATABASE} = host=127.0.0.1 port=${cluster.port} dbname=${SERVICE_DATABASE}\n\n[pgbouncer]\n${Object.entries(config)
      .map(([key, value]) => `${key} = ${value}`)
      .join('\n')}\n`,
  )
  const owner = await account()
  if (owner) for (const file of ['users.txt', 'pgbouncer.ini']) await chown(path.join(dir, file), owner.uid, owner.gid)
  const child: ChildProcess = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], { ...(owner ?? {}), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)))
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)))
  const url = () => `postgres://${SERVICE_ROLE}@127.0.0.1:${port}/${SERVICE_DATABASE}`
  await until('PgBouncer accepting connections', async () => {
    const client = new pg.Client({ connectionString: url() })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch {
      return undefined
    } finally {
      await client.end().catch(() => {})
    }
  }, 20_000)
  return {
    port,
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
