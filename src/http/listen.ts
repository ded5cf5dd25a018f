import { serve, type ServerType } from '@hono/node-server'
import { StartupError } from '../errors.ts'
import { describeProcess, findListeningProcess } from '../os-processes.ts'

/** Listens and resolves once bound; a port that cannot be bound is a StartupError naming the fix. */
export function listen(options: { fetch: (request: Request) => Response | Promise<Response>; port: number; host: string; portVariable: string }): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: options.fetch, port: options.port, hostname: options.host })
    server.once('listening', () => resolve(server))
    server.once('error', (e: NodeJS.ErrnoException) => reject(explainListenError(e, options)))
  })
}

function explainListenError(e: NodeJS.ErrnoException, options: { port: number; host: string; portVariable: string }): Error {
  const { port, host, portVariable } = options
  switch (e.code) {
    case 'EADDRINUSE': {
      const pid = findListeningProcess(port)
      return new StartupError(`port ${port} is in use${pid ? ` (by ${describeProcess(pid)})` : ''} — set ${portVariable} to a free port`)
    }
    case 'EACCES':
      return new StartupError(`this user may not listen on port ${port} — set ${portVariable} to a port above 1023`)
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StartupError(`HOST ${host} is not an address of this machine — set HOST to one of its addresses (or 0.0.0.0)`)
    default:
      return new StartupError(`cannot listen on ${host}:${port}: ${e.message || e.code} — check HOST and ${portVariable}`)
  }
}
