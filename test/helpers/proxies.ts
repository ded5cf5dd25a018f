import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net, { type AddressInfo, type Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freePort, until } from './processes.ts'

export type TestProxy = { url: string; port: number; tunnels: string[]; close(): Promise<void> }

function track(server: net.Server) {
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
}

/**
 * A real HTTP CONNECT proxy with Basic credentials, whose outgoing connections leave from `localAddress`
 * (127.0.0.2, 127.0.0.3…) so a test site can tell proxies apart the way a real site tells exit IPs apart.
 */
export async function startConnectProxy(options: { user: string; password: string; localAddress: string }): Promise<TestProxy> {
  const tunnels: string[] = []
  const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`
  const server = net.createServer((client) => {
    let head = ''
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      client.off('data', onData)
      const [requestLine = '', ...lines] = head.slice(0, end).split('\r\n')
      const [method, authority = ''] = requestLine.split(' ')
      const auth = lines.find((line) => line.toLowerCase().startsWith('proxy-authorization:'))?.slice(20).trim()
      if (method !== 'CONNECT') return void client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n')
      if (auth !== expected) return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n')
      const separator = authority.lastIndexOf(':')
      const host = authority.slice(0, separator).replace(/^\[(.*)\]$/, '$1')
      tunnels.push(authority)
      const upstream = net.connect({ host, port: Number(authority.slice(separator + 1)), localAddress: options.localAddress })
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        const rest = Buffer.from(head.slice(end + 4), 'latin1')
        if (rest.length > 0) upstream.write(rest)
        client.pipe(upstream).pipe(client)
      })
      upstream.once('error', () => client.destroy())
      client.once('error', () => upstream.destroy())
    }
    client.on('data', onData)
  })
  const close = track(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://${options.user}:${options.password}@127.0.0.1:${port}`, port, tunnels, close }
}

/** A real SOCKS5 proxy (RFC 1928 CONNECT, RFC 1929 username/password). */
export async function startSocksProxy(options: { user: string; password: string }): Promise<TestProxy> {
  const tunnels: string[] = []
  const server = net.createServer((client) => {
    let buffer = Buffer.alloc(0)
    let stage: 'greeting' | 'auth' | 'request' = 'greeting'
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (stage === 'greeting' && buffer.length >= 2 && buffer.length >= 2 + buffer[1]!) {
        const methods = [...buffer.subarray(2, 2 + buffer[1]!)]
        buffer = buffer.subarray(2 + buffer[1]!)
        if (!methods.includes(2)) return void client.end(Buffer.from([5, 0xff]))
        client.write(Buffer.from([5, 2]))
        stage = 'auth'
      }
      if (stage === 'auth' && buffer.length >= 2) {
        const userLength = buffer[1]!
        if (buffer.length < 3 + userLength) return
        const passwordLength = buffer[2 + userLength]!
        if (buffer.length < 3 + userLength + passwordLength) return
        const user = buffer.subarray(2, 2 + userLength).toString()
        const password = buffer.subarray(3 + userLength, 3 + userLength + passwordLength).toString()
        buffer = buffer.subarray(3 + userLength + passwordLength)
        if (user !== options.user || password !== options.password) return void client.end(Buffer.from([1, 1]))
        client.write(Buffer.from([1, 0]))
        stage = 'request'
      }
      if (stage === 'request' && buffer.length >= 5) {
        const kind = buffer[3]
        const addressLength = kind === 1 ? 4 : kind === 4 ? 16 : 1 + buffer[4]!
        if (buffer.length < 4 + addressLength + 2) return
        const raw = buffer.subarray(4, 4 + addressLength)
        const host =
          kind === 1
            ? [...raw].join('.')
            : kind === 3
              ? raw.subarray(1).toString()
              : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':')
        const port = buffer.readUInt16BE(4 + addressLength)
        client.off('data', onData)
        tunnels.push(`${host}:${port}`)
        const upstream = net.connect({ host, port })
        upstream.once('connect', () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
          client.pipe(upstream).pipe(client)
        })
        upstream.once('error', () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])))
        client.once('error', () => upstream.destroy())
      }
    }
    client.on('data', onData)
  })
  const close = track(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `socks5://${options.user}:${options.password}@127.0.0.1:${port}`, port, tunnels, close }
}

/** Debian's tinyproxy with BasicAuth, on a free loopback port, in the foreground; its log is kept for assertions. */
export async function startTinyproxy(options: { user: string; password: string }): Promise<TestProxy & { log(): string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tinyproxy-'))
  const port = await freePort()
  const config = path.join(dir, 'tinyproxy.conf')
  let log = ''
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'MaxClients 50',
      'Allow 127.0.0.1',
      `BasicAuth ${options.user} ${options.password}`,
      'LogLevel Info',
      'DisableViaHeader Yes',
    ].join('\n'),
  )
  const child: ChildProcess = spawn('/usr/bin/tinyproxy', ['-d', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  await until('tinyproxy listening', async () => {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    return ok || undefined
  }, 10_000, 50)
  return {
    url: `http://${options.user}:${options.password}@127.0.0.1:${port}`,
    port,
    tunnels: [],
    log: () => log,
    close: async () => {
      child.kill('SIGTERM')
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
