import net from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withConnectRetry } from '../../../src/db/index.ts'
import { isDatabaseUnreachable } from '../../../src/errors.ts'
import { createSilentLogger } from '../../../src/log.ts'

// A server that accepts TCP connections and never answers, as a database too loaded to start a session.
let silent: net.Server
let port: number
const sockets = new Set<net.Socket>()

beforeAll(async () => {
  silent = net.createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  port = (silent.address() as net.AddressInfo).port
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => silent.close(() => resolve()))
})

async function connectOnce(): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'housler', connectionTimeoutMillis: 100 })
  client.on('error', () => {})
  try {
    await client.connect()
  } finally {
    await client.end().catch(() => {})
  }
}

describe('a connect that times out (pg.Client connectionTimeoutMillis)', () => {
  it('counts as the database unreachable', async () => {
    const error = await connectOnce().then(() => undefined, (e: unknown) => e)
    expect((error as Error).message).toBe('timeout expired')
    expect(isDatabaseUnreachable(error)).toBe(true)
  })

  it('is retried at start (a worker waits instead of exiting)', async () => {
    let attempts = 0
    const outcome = await withConnectRetry(
      'the silent server',
      async () => {
        if (++attempts < 3) await connectOnce()
        return attempts
      },
      createSilentLogger(),
    )
    expect(outcome).toBe(3)
  })
})
