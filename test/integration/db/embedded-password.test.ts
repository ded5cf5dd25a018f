import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { passwordFileOf, removeEmbeddedData, startEmbeddedPostgres, type EmbeddedServer } from '../../../src/db/index.ts'
import { createSilentLogger } from '../../../src/log.ts'
import { freePort } from '../../helpers/processes.ts'

// The embedded server's `postgres` role: a password of its data folder's own, kept beside it, never the
// same on two folders and never printed; a folder made before keeps its old password.
let parent: string | undefined
let server: EmbeddedServer | undefined

afterAll(async () => {
  await server?.stop()
  if (server) await removeEmbeddedData(server.dataDir)
  if (parent) await rm(parent, { recursive: true, force: true })
})

const start = async (dir: string) => (server = await startEmbeddedPostgres({ dir, port: await freePort(), log: createSilentLogger() }))

async function connects(url: string): Promise<true | string> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  try {
    await client.connect()
    return true
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message
  } finally {
    await client.end().catch(() => {})
  }
}

const withPassword = (url: string, password: string) => Object.assign(new URL(url), { password }).toString()

describe('the embedded PostgreSQL password', () => {
  it('is random per data folder, kept in a file only its account reads, and joined through the shell, not printed', async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'housler-embedded-password-'))
    const first = await start(path.join(parent, 'pg'))
    const file = passwordFileOf(first.dataDir)
    const password = (await readFile(file, 'utf8')).trim()
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(new URL(first.url).password).toBe(password)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await connects(first.url)).toBe(true)
    // The password every folder had before: refused (28P01, password authentication failed).
    expect(await connects(withPassword(first.url, 'housler'))).toBe('28P01')
    // The join line holds no password; a shell reads it from the file.
    expect(first.joinUrl).not.toContain(password)
    const joined = execFileSync('bash', ['-c', `printf %s ${first.joinUrl}`], { encoding: 'utf8' })
    expect(joined).toBe(first.url)

    // Restarted, the folder keeps its password.
    await first.stop()
    const again = await start(path.join(parent, 'pg'))
    expect(again.url).toBe(first.url.replace(`:${first.port}/`, `:${again.port}/`))
    expect(await connects(again.url)).toBe(true)
  }, 120_000)

  it('keeps the old password of a folder made before folders had their own, and writes it to the file', async () => {
    const admin = new pg.Client({ connectionString: server!.url })
    await admin.connect()
    await admin.query(`ALTER ROLE postgres PASSWORD 'housler'`)
    await admin.end()
    await server!.stop()
    await rm(passwordFileOf(server!.dataDir))
    const legacy = await start(path.join(parent!, 'pg'))
    expect(new URL(legacy.url).password).toBe('housler')
    expect(await connects(legacy.url)).toBe(true)
    expect((await readFile(passwordFileOf(legacy.dataDir), 'utf8')).trim()).toBe('housler')
  }, 120_000)
})
