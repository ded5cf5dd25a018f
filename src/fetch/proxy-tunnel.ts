import type { ClientRequestArgs } from 'node:http'
import net, { isIP, type Socket } from 'node:net'
import { AppError, coerceError } from '../errors.ts'
import { fetchFailed } from './http-exchange.ts'
import type { Proxy } from './proxy-pool.ts'

/** Where the tunnel leads: `address` is what the proxy is asked to reach (a vetted IP, or a trusted operator host). */
export type TunnelTarget = { hostname: string; address: string; port: number; tls: boolean }

/** node:http's createConnection; its callback form lets the socket be prepared asynchronously. */
export type CreateConnection = NonNullable<ClientRequestArgs['createConnection']>

const MAX_PROXY_HEADER_BYTES = 16 * 1024

function proxyError(proxy: Proxy, message: string, cause?: unknown, retryable = true): AppError {
  return fetchFailed(`Proxy ${proxy.id}: ${message}`, { retryable, reason: 'proxy', proxy: proxy.id }, cause)
}

/** Buffers a socket's bytes until a parser says how many it needs; the rest go back to the socket. */
function createReader(socket: Socket) {
  let buffered = Buffer.alloc(0)
  let wake: (() => void) | undefined
  let failure: Error | undefined
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    wake?.()
  }
  const onEnd = (error?: Error) => {
    failure = error ?? new Error('the proxy closed the connection')
    wake?.()
  }
  const onClose = () => onEnd()
  socket.on('data', onData)
  socket.on('error', onEnd)
  socket.on('close', onClose)
  return {
    /** `need(buffer)` returns how many bytes make a complete message, or undefined when more must arrive. */
    async read(need: (buffer: Buffer) => number | undefined): Promise<Buffer> {
      for (;;) {
        const length = need(buffered)
        if (length !== undefined && buffered.length >= length) {
          const message = buffered.subarray(0, length)
          buffered = buffered.subarray(length)
          return message
        }
        if (failure) throw failure
        if (buffered.length > MAX_PROXY_HEADER_BYTES) throw new Error('the proxy sent an oversized answer')
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
    },
    release() {
      socket.off('data', onData)
      socket.off('error', onEnd)
      socket.off('close', onClose)
      if (buffered.length > 0) socket.unshift(buffered)
    },
  }
}

async function httpConnect(socket: Socket, proxy: Proxy, target: TunnelTarget, reader: ReturnType<typeof createReader>) {
  const authority = `${isIP(target.address) === 6 ? `[${target.address}]` : target.address}:${target.port}`
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`]
  if (proxy.url.username) {
    const login = `${decodeURIComponent(proxy.url.username)}:${decodeURIComponent(proxy.url.password)}`
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(login).toString('base64')}`)
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  const head = await reader.read((buffer) => {
    const end = buffer.indexOf('\r\n\r\n')
    return end < 0 ? undefined : end + 4
  })
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'))?.[1])
  if (status === 407 || status === 401) throw proxyError(proxy, `refused the credentials (${status})`, undefined, false)
  if (status !== 200) throw proxyError(proxy, `refused the tunnel (${Number.isNaN(status) ? 'no status' : status})`)
}

function socksAddress(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from([1, ...address.split('.').map(Number)])
  if (isIP(address) === 6) {
    const groups = new URL(`http://[${address}]/`).hostname.slice(1, -1)
    const [head = '', tail = ''] = groups.split('::')
    const left = head ? head.split(':') : []
    const right = tail ? tail.split(':') : []
    const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    return Buffer.from([4, ...all.flatMap((group) => [Number.parseInt(group, 16) >> 8, Number.parseInt(group, 16) & 255])])
  }
  const name = Buffer.from(address)
  return Buffer.concat([Buffer.from([3, name.length]), name])
}

/** RFC 1928 CONNECT, with RFC 1929 username/password when the proxy URL carries them. */
async function socksConnect(socket: Socket, proxy: Proxy, target: TunnelTarget, reader: ReturnType<typeof createReader>) {
  const login = proxy.url.username !== ''
  socket.write(Buffer.from(login ? [5, 2, 0, 2] : [5, 1, 0]))
  const [, method] = await reader.read(() => 2)
  if (method === 2 && login) {
    const user = Buffer.from(decodeURIComponent(proxy.url.username))
    const password = Buffer.from(decodeURIComponent(proxy.url.password))
    socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([password.length]), password]))
    const [, status] = await reader.read(() => 2)
    if (status !== 0) throw proxyError(proxy, 'refused the credentials', undefined, false)
  } else if (method !== 0) {
    throw proxyError(proxy, 'offers no authentication method we can use', undefined, false)
  }
  const port = Buffer.alloc(2)
  port.writeUInt16BE(target.port)
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), socksAddress(target.address), port]))
  const reply = await reader.read((buffer) => {
    if (buffer.length < 5) return undefined
    const kind = buffer[3]
    return 4 + (kind === 1 ? 4 : kind === 4 ? 16 : 1 + buffer[4]!) + 2
  })
  if (reply[1] !== 0) throw proxyError(proxy, `could not reach the site (SOCKS reply ${reply[1]})`)
}

async function openTunnel(proxy: Proxy, target: TunnelTarget, connectTimeoutMs: number): Promise<Socket> {
  // Loaded at the first tunnel, like node:http (http-exchange.ts): an idle worker never needs it.
  const tls = process.getBuiltinModule('node:tls')
  const { hostname, port, protocol } = proxy.url
  const host = hostname.replace(/^\[(.*)\]$/, '$1')
  const proxyPort = Number(port)
  const socket =
    protocol === 'https:'
      ? tls.connect({ host, port: proxyPort, ...(isIP(host) ? {} : { servername: host }) })
      : net.connect({ host, port: proxyPort })
  const timer = setTimeout(
    () => socket.destroy(proxyError(proxy, `no tunnel within ${connectTimeoutMs} ms`)),
    connectTimeoutMs,
  )
  const reader = createReader(socket)
  try {
    if (protocol === 'socks5:' || protocol === 'socks5h:') await socksConnect(socket, proxy, target, reader)
    else await httpConnect(socket, proxy, target, reader)
    reader.release()
  } catch (e) {
    const err = coerceError(e)
    socket.destroy()
    throw err instanceof AppError ? err : proxyError(proxy, err.message, err)
  } finally {
    clearTimeout(timer)
  }
  if (!target.tls) return socket
  const secure = tls.connect({ socket, servername: isIP(target.hostname) ? undefined : target.hostname, ALPNProtocols: ['http/1.1'] })
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve())
    secure.once('error', (error) => reject(fetchFailed(`TLS through ${proxy.id} failed: ${error.message}`, { retryable: true, reason: 'tls' }, error)))
  })
  return secure
}

/**
 * A createConnection that reaches the target through the proxy. `resolveTarget` vets the site's address before the
 * tunnel is asked for, and the tunnel names that IP: the proxy never resolves a user-given name itself.
 */
export function tunnelThrough(
  proxy: Proxy,
  url: URL,
  resolveTarget: (hostname: string) => Promise<string>,
  connectTimeoutMs: number,
): CreateConnection {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
  return (_options, callback) => {
    resolveTarget(hostname)
      .then((address) => openTunnel(proxy, { hostname, address, port, tls: url.protocol === 'https:' }, connectTimeoutMs))
      .then(
        (socket) => callback(null, socket),
        (error) => callback(coerceError(error), undefined as unknown as Socket),
      )
    return undefined
  }
}
