import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { ResolveHost, ResolvedAddress } from '../../../src/fetch/index.ts'

export type SeenRequest = { method: string; path: string; headers: IncomingHttpHeaders; body: string }

export type TestServer = {
  port: number
  origin: string
  requests: SeenRequest[]
  hits(path: string): number
  close(): Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void

/** A real node:http server on 127.0.0.1 that records every request before handing it to the handler. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(seen)
      handler(req, res, seen)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    hits: (path) => requests.filter((request) => request.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A resolver standing in for DNS: answers from a table (default: loopback) and logs every question. */
export function createTestResolver(
  answer: (hostname: string, call: number) => readonly ResolvedAddress[] = () => [{ address: '127.0.0.1', family: 4 }],
): ResolveHost & { calls: string[] } {
  const calls: string[] = []
  const resolve = async (hostname: string) => {
    calls.push(hostname)
    return answer(hostname, calls.length)
  }
  return Object.assign(resolve, { calls })
}

/** Settles a promise and reports how long it took, so timing assertions read plainly. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; error: unknown; value?: T }> {
  const started = performance.now()
  try {
    const value = await promise
    return { ms: performance.now() - started, error: undefined, value }
  } catch (error) {
    return { ms: performance.now() - started, error }
  }
}
