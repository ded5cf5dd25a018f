import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../../helpers/postgres.ts'
import { freePort } from '../../helpers/processes.ts'

type LogLine = { level: number; msg: string; url?: string }

let database: Awaited<ReturnType<typeof createTestDatabase>>
let server: ChildProcess | undefined
let rqCompatPort: number
const lines: LogLine[] = []

/** Starts `src/server.ts --api-only` without API_KEYS and resolves with its log once it listens. */
function startServer(): Promise<void> {
  const child = spawn(process.execPath, ['src/server.ts', '--api-only'], {
    env: { PATH: process.env.PATH, DATABASE_URL: database.url, PORT: '0', RQ_COMPAT_PORT: String(rqCompatPort), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  server = child
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not listen in 30 s: ${JSON.stringify(lines)}`)), 30_000)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line) as LogLine)
      } catch {
        return
      }
      // The loopback warning is written right after the listening line, in the same callback.
      if (lines.some((l) => /^API_KEYS is not set/.test(l.msg)) && lines.some((l) => /^Redis-protocol adapter/.test(l.msg))) {
        clearTimeout(timer)
        resolve()
      }
    })
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
  await startServer()
}, 60_000)

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
  }
  await database?.drop()
})

describe('the server without API_KEYS', () => {
  it('listens on loopback only and says so at start', async () => {
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
    const listening = lines.find((line) => /^Redis-protocol adapter listening/.test(line.msg))
    expect(listening?.url).toBe(`redis://127.0.0.1:${rqCompatPort}/0`)
    expect(await canConnect('127.0.0.1', rqCompatPort)).toBe(true)
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal)
    if (external) expect(await canConnect(external.address, rqCompatPort)).toBe(false)
  })
})
