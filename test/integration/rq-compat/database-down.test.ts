import { execFile } from 'node:child_process'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RqCompatServer } from '../../../src/rq-compat/index.ts'
import { createTestDatabase } from '../../helpers/postgres.ts'
import { freePort, until } from '../../helpers/processes.ts'
import { startTestAdapter } from '../../helpers/rq-compat.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'
import { echoTask } from '../../helpers/tasks.ts'

// The queue reaches Postgres through a TCP relay this test can cut: the guide's `redis-cli ping`
// ("is the queue reachable") must then say the database is down, and PONG again once it is back.
const run = promisify(execFile)
let database: Awaited<ReturnType<typeof createTestDatabase>>
let relay: Server | undefined
let relayPort: number
const relayed = new Set<Socket>()
let service: TestService
let adapter: RqCompatServer

function openRelay(target: URL): Promise<void> {
  relay = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) })
    for (const socket of [client, upstream]) {
      relayed.add(socket)
      socket.on('close', () => relayed.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
  })
  return new Promise((resolve) => relay!.listen(relayPort, '127.0.0.1', resolve))
}

async function cutRelay(): Promise<void> {
  const closed = new Promise((resolve) => relay!.close(resolve))
  for (const socket of relayed) socket.destroy()
  await closed
}

const ping = async () => (await run('redis-cli', ['-p', String(adapter.port), 'ping'], { timeout: 30_000 })).stdout.trim()

beforeAll(async () => {
  database = await createTestDatabase()
  relayPort = await freePort()
  const target = new URL(database.url)
  await openRelay(target)
  const viaRelay = new URL(database.url)
  viaRelay.host = `127.0.0.1:${relayPort}`
  service = await startTestService({ tasks: [echoTask], worker: false, databaseUrl: viaRelay.toString() })
  adapter = await startTestAdapter(service)
}, 60_000)

afterAll(async () => {
  await adapter?.close()
  await service?.close()
  await cutRelay().catch(() => {})
  await database?.drop()
})

describe('redis-cli ping while the database is unreachable', () => {
  it('answers that the queue database is unreachable, then PONG once it is back', async () => {
    expect(await ping()).toBe('PONG')
    await cutRelay()
    expect(await ping()).toMatch(/^ERR the queue database \(DATABASE_URL\) is unreachable/)
    expect((await run('redis-cli', ['-p', String(adapter.port), 'KEYS', 'rq:*'], { timeout: 30_000 })).stdout).toMatch(/unreachable/)
    await openRelay(new URL(database.url))
    await until('PONG again', async () => ((await ping()) === 'PONG' ? true : undefined))
  })
})
