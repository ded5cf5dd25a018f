import { matchesAnyKey, sha256 } from '../api-keys.ts'
import net from 'node:net'
import { coerceError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { RqBackend } from './backend.ts'
import { executeCommand, type CommandContext, type Role, type Session } from './commands.ts'
import { createNames } from './keyspace.ts'
import { encodeReply, RespError } from './resp.ts'
import { createRequestParser, ProtocolError } from './request-parser.ts'
import { createPendingRemovals, createPendingSchedules, createView } from './view.ts'

export type RqCompatLimits = {
  /** Connections open at once; more are answered with an error and closed. */
  maxConnections: number
  /** Bytes of one command not yet complete (a bulk string, a long array) before the connection is dropped. */
  maxRequestBytes: number
  /** Arguments in one command. */
  maxArguments: number
  /** Commands parsed and waiting for their replies before reading pauses. */
  maxPipelined: number
  /** A command must arrive whole within this long of its first byte (slowloris). */
  requestTimeoutMs: number
  /** An idle connection is closed after this long. */
  idleTimeoutMs: number
  /** How long a lone ZREM/LREM waits for the DEL or requeue that explains it, and a lone ZADD of enqueue_at for its job. */
  removalGraceMs: number
}

export const DEFAULT_LIMITS: RqCompatLimits = {
  maxConnections: 256,
  maxRequestBytes: 4 * 1024 * 1024,
  maxArguments: 100_000,
  maxPipelined: 1000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  removalGraceMs: 10_000,
}

export type RqCompatOptions = {
  backend: RqBackend
  log: Logger
  port: number
  host: string
  /** Client keys may read; admin keys may also write. No keys: no AUTH, and the caller binds to loopback. */
  clientKeys: readonly string[]
  adminKeys: readonly string[]
  /** Old dotted function paths → kind, so an old app's queue.enqueue('app.tasks.parse_property', …) still runs. */
  functionAliases: ReadonlyMap<string, string>
  limits?: Partial<RqCompatLimits>
}

/**
 * The Redis-protocol (RESP2) listener: RQ's key layout over the Postgres queue, so redis-cli, RQ's
 * Python API, `rq info` and rq-dashboard work unchanged. No Redis is involved and no state is kept
 * here: reads come from the queue's views, writes become queue operations.
 */
export async function startRqCompatServer(options: RqCompatOptions) {
  const limits = { ...DEFAULT_LIMITS, ...options.limits }
  const { backend, log } = options
  const names = createNames(backend.kinds, options.functionAliases)
  const pending = createPendingRemovals({
    graceMs: limits.removalGraceMs,
    expire: (jobId) =>
      void backend.remove(jobId).catch((e) => log.warn({ err: coerceError(e).message, job_id: jobId }, 'rq-compat: could not delete a job removed from its registry')),
  })
  const schedules = createPendingSchedules({ graceMs: limits.removalGraceMs })
  const view = createView(backend, names, pending)
  const adminHashes = options.adminKeys.map(sha256)
  const clientHashes = [...options.clientKeys, ...options.adminKeys].map(sha256)
  const authEnabled = clientHashes.length > 0
  const sockets = new Set<net.Socket>()
  let nextId = 1
  let boundPort = options.port

  const ctx: CommandContext = {
    backend,
    names,
    view,
    pending,
    schedules,
    log,
    port: () => boundPort,
    connections: () => sockets.size,
    startedAt: Date.now(),
    authEnabled,
    scripts: new Map(),
    authenticate(key: string): Role | undefined {
      if (matchesAnyKey(adminHashes, key)) return 'admin'
      return matchesAnyKey(clientHashes, key) ? 'client' : undefined
    },
  }

  // Half-open: a client that sends its commands and then shuts down its side still gets every answer.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (sockets.size >= limits.maxConnections) {
      socket.end(encodeReply(new RespError('ERR max number of clients reached')))
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    serveConnection(socket, ctx, limits, nextId++, log)
  })
  server.maxConnections = limits.maxConnections * 2

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  boundPort = (server.address() as net.AddressInfo).port
  server.on('error', (e) => log.error({ err: coerceError(e).message }, 'rq-compat listener error'))

  return {
    port: boundPort,
    host: options.host,
    connections: () => sockets.size,
    async close(): Promise<void> {
      pending.clear()
      schedules.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}

export type RqCompatServer = Awaited<ReturnType<typeof startRqCompatServer>>

function serveConnection(socket: net.Socket, ctx: CommandContext, limits: RqCompatLimits, id: number, log: Logger) {
  const session: Session = { id, name: null, role: ctx.authEnabled ? undefined : 'admin', multi: null, multiFailed: false, quit: false }
  const queue: Buffer[][] = []
  let requestTimer: NodeJS.Timeout | undefined
  let working = false
  let closed = false
  let clientEnded = false
  const endIfDone = () => {
    if (clientEnded && !working && queue.length === 0 && !closed) {
      closed = true
      socket.end()
    }
  }

  /** Closes the connection; `reason` undefined closes silently, as Redis's idle timeout does (a pooled client reconnects). */
  const drop = (reason: string | undefined) => {
    if (closed) return
    closed = true
    if (requestTimer) clearTimeout(requestTimer)
    if (reason === undefined) return void socket.destroy()
    if (!socket.destroyed && socket.writable) socket.end(encodeReply(new RespError(`ERR ${reason}`)))
    setTimeout(() => socket.destroy(), 1000).unref()
  }

  const parser = createRequestParser({ maxArguments: limits.maxArguments, maxBulkBytes: limits.maxRequestBytes, maxRequestBytes: limits.maxRequestBytes })
  const accept = (args: Buffer[]) => {
    if (requestTimer) clearTimeout(requestTimer)
    requestTimer = undefined
    queue.push(args)
    if (queue.length >= limits.maxPipelined) socket.pause()
    void work()
  }

  async function work() {
    if (working) return
    working = true
    try {
      while (queue.length > 0 && !closed) {
        const args = queue.shift()!
        const reply = await executeCommand(args, session, ctx)
        if (closed || socket.destroyed) return
        const flushed = socket.write(encodeReply(reply))
        if (session.quit) {
          closed = true
          socket.end()
          return
        }
        if (!flushed) await new Promise((resolve) => socket.once('drain', resolve))
        if (queue.length < limits.maxPipelined / 2 && socket.isPaused()) socket.resume()
      }
    } catch (e) {
      log.error({ err: coerceError(e).message, stack: coerceError(e).stack }, 'rq-compat command failed')
      drop('internal error; see the service log')
    } finally {
      working = false
      endIfDone()
    }
  }

  socket.setNoDelay(true)
  socket.setTimeout(limits.idleTimeoutMs, () => drop(undefined))
  socket.on('error', () => socket.destroy())
  socket.on('end', () => {
    clientEnded = true
    endIfDone()
  })
  socket.on('close', () => {
    closed = true
    if (requestTimer) clearTimeout(requestTimer)
  })
  socket.on('data', (chunk: Buffer) => {
    if (closed) return
    try {
      parser.push(chunk, accept)
    } catch (e) {
      return drop(`Protocol error: ${e instanceof ProtocolError ? e.message : 'unreadable request'}`)
    }
    // A request begun must arrive whole in time; one that trickles in (slowloris) is dropped.
    if (parser.pendingBytes() > 0) requestTimer ??= setTimeout(() => drop('request not completed in time'), limits.requestTimeoutMs)
  })
}
