import { connect, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RqCompatServer } from '../../src/rq-compat/index.ts'
import { createTaskServices } from '../../src/services.ts'
import { TASKS } from '../../src/tasks/registry.ts'
import { startTestAdapter } from '../helpers/rq-compat.ts'
import { startTestService, type TestService } from '../helpers/service.ts'

/**
 * Property: whatever bytes a client sends to the Redis-protocol listener — random garbage, malformed
 * RESP (huge or negative lengths, deep arrays, wrong types), valid commands with random arguments,
 * a request dribbled in too slowly, more connections than allowed — the process does not crash, its
 * memory stays bounded, and a well-behaved client is still answered. Against the real queue.
 */

const MAX_REQUEST_BYTES = 64 * 1024
const MAX_CONNECTIONS = 16
const RUNS = 400

let service: TestService
let adapter: RqCompatServer
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)

beforeAll(async () => {
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)
  service = await startTestService({ tasks: TASKS, deps: createTaskServices, worker: false })
  adapter = await startTestAdapter(service, { limits: { maxRequestBytes: MAX_REQUEST_BYTES, maxConnections: MAX_CONNECTIONS, requestTimeoutMs: 300, idleTimeoutMs: 1500 } })
}, 60_000)

afterAll(async () => {
  process.off('uncaughtException', onCrash)
  process.off('unhandledRejection', onCrash)
  await adapter?.close()
  await service?.close()
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: adapter.port }, () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Sends `bytes`, half-closes, and resolves with everything the server wrote until it closed. */
async function exchange(bytes: Uint8Array, keepOpen = false): Promise<{ reply: Buffer; socket: Socket }> {
  const socket = await open()
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(bytes)
  if (keepOpen) return { reply: Buffer.alloc(0), socket }
  socket.end()
  await closed
  return { reply: Buffer.concat(chunks), socket }
}

/** A command on a fresh connection, answered in full: the listener still serves. */
async function ping(): Promise<string> {
  const socket = await open()
  return new Promise((resolve, reject) => {
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.endsWith('\r\n')) {
        socket.destroy()
        resolve(text)
      }
    })
    socket.once('error', reject)
    socket.write('*1\r\n$4\r\nPING\r\n')
  })
}

const bulk = (value: Uint8Array | string) => {
  const body = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value)
  return Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')])
}
const command = (args: Array<Uint8Array | string>) => Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map(bulk)])

const NAMES = ['PING', 'HGETALL', 'HSET', 'RPUSH', 'ZADD', 'ZRANGE', 'KEYS', 'SCAN', 'DEL', 'MULTI', 'EXEC', 'EVALSHA', 'LREM', 'ZREMRANGEBYSCORE', 'AUTH', 'HELLO', 'CLIENT', 'SELECT', 'FLUSHALL', 'COMMAND']
const KEYS = ['rq:queues', 'rq:queue:housler-tasks', 'rq:job:00000000-0000-4000-8000-000000000000', 'rq:failed:parse', 'rq:wip:nope', 'rq:worker:x', 'x', '*']

const validCommand = fc
  .tuple(fc.constantFrom(...NAMES), fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 64 })), { maxLength: 6 }))
  .map(([name, args]) => command([name, ...args]))

const malformed = fc.oneof(
  fc.integer({ min: 2 ** 20, max: 2 ** 40 }).map((n) => Buffer.from(`*1\r\n$${n}\r\nabc`)),
  fc.integer({ min: -(2 ** 31), max: -2 }).map((n) => Buffer.from(`*2\r\n$4\r\nPING\r\n$${n}\r\n`)),
  fc.integer({ min: -(2 ** 31), max: -1 }).map((n) => Buffer.from(`*${n}\r\n`)),
  fc.integer({ min: 2 ** 20, max: 2 ** 31 - 1 }).map((n) => Buffer.from(`*${n}\r\n$4\r\nPING\r\n`)),
  fc.integer({ min: 2, max: 5000 }).map((depth) => Buffer.from('*1\r\n'.repeat(depth) + '$4\r\nPING\r\n')),
  fc.constantFrom('+OK\r\n', '-ERR x\r\n', ':12\r\n', '$3\r\nabc\r\n', '*1\r\n:5\r\n', '*0\r\n', 'PING\r\n', '*1\r\n$x\r\n', '\r\n\r\n').map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 4096 }),
)

const frame = fc.array(fc.oneof(validCommand, malformed), { minLength: 1, maxLength: 5 }).map((parts) => Buffer.concat(parts))

describe('the RESP listener under malformed input', () => {
  it(`survives ${RUNS} random and malformed requests: no crash, bounded memory, still answering`, async () => {
    const heapBefore = process.memoryUsage().heapUsed
    let sent = 0
    await fc.assert(
      fc.asyncProperty(frame, async (bytes) => {
        sent++
        await exchange(bytes)
        expect(await ping()).toBe('+PONG\r\n')
      }),
      { numRuns: RUNS },
    )
    expect(sent).toBe(RUNS)
    expect(crashes).toEqual([])
    console.log(`resp fuzz: ${RUNS} malformed requests, ${crashes.length} crashes, heap ${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MB after`)
    // Every connection's buffer is capped at MAX_REQUEST_BYTES; nothing accumulates across connections.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(100 * 1024 * 1024)
    expect(adapter.connections()).toBeLessThanOrEqual(1)
  }, 300_000)

  it('refuses a bulk string declared larger than the cap at its header, before buffering it', async () => {
    const { reply } = await exchange(Buffer.from('*2\r\n$4\r\nECHO\r\n$100000000\r\nabc'))
    expect(reply.toString()).toBe('-ERR Protocol error: invalid bulk length\r\n')
    expect(await ping()).toBe('+PONG\r\n')
  })

  it('drops a request that grows past the cap, after at most the cap was buffered', async () => {
    const socket = await open()
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.write('*1000\r\n$5\r\nRPUSH\r\n')
    const arg = Buffer.concat([Buffer.from('$16000\r\n'), Buffer.alloc(16000, 0x61), Buffer.from('\r\n')])
    let written = 0
    // Keep streaming arguments until the server closes: it must not wait for all 1000 of them.
    while (!socket.destroyed && written < 1000) {
      socket.write(arg)
      written++
      await new Promise((resolve) => setImmediate(resolve))
    }
    await closed
    expect(written).toBeLessThan(1000)
    expect(Buffer.concat(chunks).toString()).toMatch(/^-ERR Protocol error: request larger than 65536 bytes/)
    expect(await ping()).toBe('+PONG\r\n')
  })

  it('closes a connection whose request dribbles in slower than the request timeout (slowloris)', async () => {
    const { socket } = await exchange(Buffer.from('*1\r\n$4\r\nPI'), true)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    expect(Buffer.concat(chunks).toString()).toMatch(/request not completed in time/)
    expect(await ping()).toBe('+PONG\r\n')
  })

  it('closes an idle connection silently, as Redis does, so a pooled client simply reconnects', async () => {
    const socket = await open()
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.write(command(['PING']))
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    expect(Buffer.concat(chunks).toString()).toBe('+PONG\r\n')
  })

  it(`refuses connections beyond ${MAX_CONNECTIONS} and serves again once they close`, async () => {
    const held: Socket[] = []
    for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await open())
    await expect.poll(() => adapter.connections()).toBe(MAX_CONNECTIONS)
    const { reply } = await exchange(command(['PING']))
    expect(reply.toString()).toMatch(/^-ERR max number of clients reached/)
    for (const socket of held) socket.destroy()
    await expect.poll(() => adapter.connections()).toBe(0)
    expect(await ping()).toBe('+PONG\r\n')
  })

  it('answers an unknown command with an error and keeps the connection', async () => {
    const { reply } = await exchange(Buffer.concat([command(['FLUSHALL']), command(['BLPOP', 'x', '0']), command(['PING'])]))
    expect(reply.toString()).toBe("-ERR unknown command 'FLUSHALL', with args beginning with: \r\n-ERR unknown command 'BLPOP', with args beginning with: 'x' '0'\r\n+PONG\r\n")
  })
})
