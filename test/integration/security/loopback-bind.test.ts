import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../../helpers/postgres.ts'
import { freePort, spawnTestProcess, type TestProcess } from '../../helpers/processes.ts'

type LogLine = { level: number; msg: string; url?: string }

let database: Awaited<ReturnType<typeof createTestDatabase>>
let server: TestProcess | undefined
let rqCompatPort: number

/** The server's JSON log lines so far. */
function logLines(): LogLine[] {
  return (server?.output() ?? '').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine]
    } catch {
      return []
    }
  })
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.setTimeout(2000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

beforeAll(async () => {
  database = await createTestDatabase()
  rqCompatPort = await freePort()
  // `src/server.ts --api-only` with nothing but the database and ports set; ready once both listeners
  // said where they are (the loopback warning is written right after the HTTP listening line).
  server = await spawnTestProcess(
    'src/server.ts',
    { DATABASE_URL: database.url, PORT: '0', RQ_COMPAT_PORT: String(rqCompatPort), LOG_LEVEL: 'info' },
    { args: ['--api-only'], isolatedEnv: true, readyWhen: (output) => /API_KEYS is not set/.test(output) && /Redis-protocol adapter listening/.test(output) },
  )
}, 60_000)

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM')
    await server.exited
  }
  await database?.drop()
})

describe('the server without API_KEYS', () => {
  it('listens on loopback only and says so at start', async () => {
    const lines = logLines()
    const listening = lines.find((line) => line.msg === 'housler task service listening')
    expect(listening?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const warning = lines.find((line) => /^API_KEYS is not set/.test(line.msg))
    expect(warning).toMatchObject({ level: 40, msg: expect.stringContaining('loopback only') })

    const port = Number(new URL(listening!.url!).port)
    expect(await canConnect('127.0.0.1', port)).toBe(true)
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal)
    console.log(`loopback bind: 127.0.0.1:${port} reachable; ${external ? `${external.address}:${port} tried` : 'no non-loopback IPv4 interface to try'}`)
    if (external) expect(await canConnect(external.address, port)).toBe(false)
  })

  it('binds the Redis-protocol adapter (RQ_COMPAT_PORT) to loopback only too', async () => {
    const listening = logLines().find((line) => /^Redis-protocol adapter listening/.test(line.msg))
    expect(listening?.url).toBe(`redis://127.0.0.1:${rqCompatPort}/0`)
    expect(await canConnect('127.0.0.1', rqCompatPort)).toBe(true)
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal)
    if (external) expect(await canConnect(external.address, rqCompatPort)).toBe(false)
  })
})
