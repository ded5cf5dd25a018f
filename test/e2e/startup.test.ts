import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { passwordFileOf, removeEmbeddedData, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/index.ts'
import { createSilentLogger } from '../../src/log.ts'
import { processCommand } from '../../src/os-processes.ts'
import { createTestDatabase } from '../helpers/postgres.ts'
import { freePort, killAll, spawnTestProcess, until, type TestProcess } from '../helpers/processes.ts'

// `npm start` as a new user runs it: real processes from a copy of the checkout in a 0700 folder
// whose path has a space and Cyrillic letters. Every expected failure must end in one explaining line.
const REPO = path.resolve(import.meta.dirname, '../..')
const isRoot = process.getuid?.() === 0
/** A start-up failure must be told this fast, even on a busy two-core machine. */
const FAIL_WITHIN_MS = 30_000

let home: string
let checkout: string
/** Folders any account may enter (a data folder there is used where it is, never moved). */
let open: string
const relocated = new Set<string>()

/** The checkout as a clone has it: tracked and untracked-but-not-ignored files, node_modules linked. */
async function copyCheckout(target: string): Promise<void> {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
  for (const file of files) {
    await mkdir(path.dirname(path.join(target, file)), { recursive: true })
    await cp(path.join(REPO, file), path.join(target, file)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e // deleted in the working tree but not yet in the index
    })
  }
  await symlink(path.join(REPO, 'node_modules'), path.join(target, 'node_modules'))
}

type Run = TestProcess

async function start(cwd: string, env: Record<string, string>, entry = 'src/server.ts'): Promise<Run> {
  const run = await spawnTestProcess(entry, { ...withoutDatabaseEnv(process.env), LOG_LEVEL: 'info', ...env }, {
    cwd,
    execArgv: ['--max-semi-space-size=4'],
    isolatedEnv: true,
    readyWhen: 'spawned',
  })
  return {
    ...run,
    output: () => {
      const output = run.output()
      for (const match of output.matchAll(/"data_dir":"([^"]+)"/g)) relocated.add(match[1])
      return output
    },
  }
}

function withoutDatabaseEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const copy: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !['DATABASE_URL', 'EMBEDDED_PG_DIR', 'EMBEDDED_PG_PORT', 'PORT', 'NODE_OPTIONS'].includes(key)) copy[key] = value
  }
  return copy
}

/** Runs a start that must fail: resolves with its exit code and the line it printed to stderr. */
async function expectFailure(cwd: string, env: Record<string, string>): Promise<{ code: number | null; line: string; output: string }> {
  const run = await start(cwd, env)
  const timer = setTimeout(() => run.child.kill('SIGKILL'), FAIL_WITHIN_MS)
  const code = await run.exited
  clearTimeout(timer)
  const lines = run.output().split('\n').filter((line) => line.includes('failed to start'))
  return { code, line: lines.at(-1) ?? '', output: run.output() }
}

async function waitListening(run: Run): Promise<void> {
  await until('the service to listen', async () => {
    if (run.child.exitCode !== null) throw new Error(`exited ${run.child.exitCode}:\n${run.output()}`)
    return run.output().includes('housler task service listening') ? true : undefined
  }, 90_000)
}

async function stop(run: Run): Promise<number | null> {
  run.child.kill('SIGTERM')
  return run.exited
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

/** The data folder the last start-up line of `output` names. */
const dataDirOf = (output: string) => [...output.matchAll(/"data_dir":"([^"]+)"/g)].at(-1)![1]

/** The postmaster of the data folder `output` names, from its lock file. */
function postmasterPid(output: string): number {
  return Number(readFileSync(path.join(dataDirOf(output), 'postmaster.pid'), 'utf8').split('\n')[0])
}

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'housler-home-')) // 0700, as /root is
  checkout = path.join(home, 'мой проект')
  await copyCheckout(checkout)
  open = await mkdtemp(path.join(tmpdir(), 'housler-open-'))
  await chmod(open, 0o755)
}, 120_000)

afterAll(async () => {
  await killAll()
  // A SIGKILLed service leaves its PostgreSQL running: stop what this file started.
  for (const dir of relocated) {
    const lock = await readFile(path.join(dir, 'postmaster.pid'), 'utf8').catch(() => '')
    const pid = Number(lock.split('\n')[0])
    if (pid > 0 && processCommand(pid)?.includes('postgres')) process.kill(pid, 'SIGQUIT')
    if (!dir.startsWith(REPO)) await removeEmbeddedData(dir)
  }
  await rm(home, { recursive: true, force: true })
  await rm(open, { recursive: true, force: true })
})

describe('npm start from a closed folder', () => {
  it('starts the embedded PostgreSQL from a 0700 folder with a space in its path, and keeps the data over a restart', async () => {
    const env = { PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) }
    const first = await start(checkout, env)
    await waitListening(first)
    const base = `http://127.0.0.1:${env.PORT}`
    const enqueued = (await (
      await fetch(`${base}/api/tasks/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"session_id":"startup"}' })
    ).json()) as { job_id: string }
    expect(enqueued.job_id).toMatch(/^[0-9a-f-]{36}$/)
    if (isRoot) expect(first.output()).toMatch(/embedded PostgreSQL data lives in \/var\/lib\/housler\/postgres-[0-9a-f]{12}/)
    // The log tells how to join the database; the password it holds stays in its file.
    const dataDir = dataDirOf(first.output())
    const password = (await readFile(passwordFileOf(dataDir), 'utf8')).trim()
    expect(first.output()).toContain(`join it from another terminal with DATABASE_URL=\\"postgres://postgres:$(cat '${passwordFileOf(dataDir)}')@`)
    expect(first.output()).not.toContain(password)
    expect(await stop(first)).toBe(0)

    const second = await start(checkout, env)
    await waitListening(second)
    const status = await fetch(`${base}/api/tasks/status/${enqueued.job_id}`)
    expect(status.status).toBe(200)
    expect(await stop(second)).toBe(0)
  }, 180_000)

  it('recovers after the service was SIGKILLed (its PostgreSQL left running) and after PostgreSQL itself was SIGKILLed', async () => {
    const env = { PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) }
    const first = await start(checkout, env)
    await waitListening(first)
    const orphan = postmasterPid(first.output())
    first.child.kill('SIGKILL')
    await first.exited
    expect(processCommand(orphan)).toContain('postgres')

    const second = await start(checkout, env)
    await waitListening(second)
    expect(second.output()).toContain('left running by a crashed run')
    expect(processCommand(orphan)).toBeUndefined()
    const postmaster = postmasterPid(second.output())
    process.kill(postmaster, 'SIGKILL')
    await until('the postmaster to die', async () => (processCommand(postmaster) === undefined ? true : undefined))
    second.child.kill('SIGKILL')
    await second.exited

    const third = await start(checkout, env)
    await waitListening(third)
    expect(await stop(third)).toBe(0)
  }, 240_000)

  it('a second checkout beside a running one takes the next free PostgreSQL port', async () => {
    const other = path.join(home, 'second checkout')
    await copyCheckout(other)
    const blocker = await occupy(54329).catch(() => undefined) // whoever holds 54329 already makes the case
    try {
      const run = await start(other, { PORT: String(await freePort()) })
      await waitListening(run)
      expect(run.output()).toMatch(/port 54329 is in use.*: the embedded PostgreSQL uses 543[3-7]\d/)
      expect(await stop(run)).toBe(0)
    } finally {
      blocker?.close()
    }
  }, 180_000)
})

describe('every start-up failure is one line naming the cause and the fix', () => {
  let scram: EmbeddedServer
  const scramDir = () => path.join(home, 'scram-pg')

  beforeAll(async () => {
    scram = await startEmbeddedPostgres({ dir: scramDir(), port: await freePort(), log: createSilentLogger() })
    relocated.add(scram.dataDir)
  }, 120_000)
  afterAll(async () => {
    await scram?.stop()
  })

  it('HTTP port in use', async () => {
    const port = await freePort()
    const holder = await occupy(port)
    try {
      const { code, line } = await expectFailure(checkout, { DATABASE_URL: scram.url, PORT: String(port) })
      expect(code).toBe(1)
      expect(line).toMatch(new RegExp(`port ${port} is in use \\(by pid ${process.pid}.*\\) — set PORT to a free port$`))
    } finally {
      holder.close()
    }
  }, 60_000)

  it('an explicit embedded PostgreSQL port in use', async () => {
    const port = await freePort()
    const holder = await occupy(port)
    try {
      const { code, line } = await expectFailure(checkout, { EMBEDDED_PG_PORT: String(port), EMBEDDED_PG_DIR: path.join(home, 'pg-port') })
      expect(code).toBe(1)
      expect(line).toMatch(new RegExp(`port ${port} for the embedded PostgreSQL is in use \\(by pid ${process.pid}.*\\) — set EMBEDDED_PG_PORT`))
    } finally {
      holder.close()
    }
  }, 60_000)

  it('a data folder of another PostgreSQL major version', async () => {
    const dir = path.join(open, 'old-pg')
    await mkdir(dir, { recursive: true })
    await writeFile(path.join(dir, 'PG_VERSION'), '15\n')
    const { code, line } = await expectFailure(checkout, { EMBEDDED_PG_DIR: dir, PORT: String(await freePort()) })
    expect(code).toBe(1)
    expect(line).toMatch(/was made by PostgreSQL 15, but the embedded server is PostgreSQL 18 — move the folder aside/)
  }, 60_000)

  it('DATABASE_URL unreachable', async () => {
    const closed = await freePort()
    const { code, line } = await expectFailure(checkout, { DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/postgres` })
    expect(code).toBe(1)
    expect(line).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${closed} (connection refused) — is the server running? Check DATABASE_URL`)
  }, 60_000)

  it('a wrong password', async () => {
    const url = new URL(scram.url)
    url.password = 'not-the-password'
    const { code, line } = await expectFailure(checkout, { DATABASE_URL: url.toString() })
    expect(code).toBe(1)
    expect(line).toContain(`refused the password for user "postgres" — check the password in DATABASE_URL`)
    expect(line).not.toContain('not-the-password')
  }, 60_000)

  it('a database that does not exist', async () => {
    const url = new URL(scram.url)
    url.pathname = '/no_such_db'
    const { code, line } = await expectFailure(checkout, { DATABASE_URL: url.toString() })
    expect(code).toBe(1)
    expect(line).toContain('database "no_such_db" does not exist')
  }, 60_000)

  it('a database migrated by a newer version (a migration this checkout lacks)', async () => {
    const database = await createTestDatabase()
    try {
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      await client.query(`INSERT INTO housler.kysely_migration (name, timestamp) VALUES ('9999_from_the_future', now()::text)`)
      await client.end()
      const { code, line } = await expectFailure(checkout, { DATABASE_URL: database.url, PORT: String(await freePort()) })
      expect(code).toBe(1)
      expect(line).toContain('the database has run migration 9999_from_the_future, which this checkout does not have')
    } finally {
      await database.drop()
    }
  }, 60_000)

  it.runIf(isRoot)('a full disk under the data folder', async () => {
    const mount = path.join(open, 'full-disk')
    await mkdir(mount, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mount])
    try {
      const { code, line } = await expectFailure(checkout, { EMBEDDED_PG_DIR: path.join(mount, 'pg'), PORT: String(await freePort()) })
      expect(code).toBe(1)
      expect(line).toMatch(/the disk holding .*full-disk\/pg is full .* — free some space, or set EMBEDDED_PG_DIR/)
    } finally {
      execFileSync('umount', [mount])
    }
  }, 60_000)

  it('a bad setting', async () => {
    const { code, line, output } = await expectFailure(checkout, { PORT: 'eighty' })
    expect(code).toBe(1)
    expect(line).toMatch(/Invalid configuration: PORT: /)
    expect(output).not.toMatch(/\n\s+at /) // no stack trace for an expected condition
  }, 60_000)
})

describe('trying it offline', () => {
  it('npm run demo serves saved pages through FETCH_REWRITE: a pasted cian URL parses with no network', async () => {
    const port = await freePort()
    const run = await start(checkout, { PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()) }, 'demo/main.ts')
    await waitListening(run)
    expect(run.output()).toContain('https://spb.cian.ru/sale/flat/315831388/')
    const base = `http://127.0.0.1:${port}`
    const enqueued = (await (
      await fetch(`${base}/api/tasks/parse`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'https://spb.cian.ru/sale/flat/315831388/', session_id: 'demo' }),
      })
    ).json()) as { job_id: string }
    const finished = await until('the parse to finish', async () => {
      const body = (await (await fetch(`${base}/api/tasks/status/${enqueued.job_id}`)).json()) as { status: string; result?: { data: { total_area: number } } }
      if (body.status === 'failed') throw new Error(JSON.stringify(body))
      return body.status === 'finished' ? body : undefined
    })
    expect(finished.result!.data.total_area).toBeGreaterThan(10)
    expect(await stop(run)).toBe(0)
  }, 180_000)
})
