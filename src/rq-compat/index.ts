import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import type { Queue } from '../queue/index.ts'
import { createRqBackend } from './backend.ts'
import { startRqCompatServer, type RqCompatLimits, type RqCompatServer } from './server.ts'

export { startRqCompatServer, DEFAULT_LIMITS, type RqCompatServer, type RqCompatLimits, type RqCompatOptions } from './server.ts'
export { createRqBackend, type RqBackend } from './backend.ts'
export { dumpPickle, loadPickle, Tuple, PickleRefused } from './pickle.ts'
export { REPORTED_REDIS_VERSION } from './commands.ts'

/** Starts the Redis-protocol adapter on RQ_COMPAT_PORT (HOST's interface); undefined when the port is 0. */
export async function startRqCompat(options: { config: Config; queue: Queue; log: Logger; limits?: Partial<RqCompatLimits> }): Promise<RqCompatServer | undefined> {
  const { config, queue, log } = options
  if (config.rqCompatPort === 0) return undefined
  return startRqCompatServer({
    backend: createRqBackend(queue, config),
    log,
    port: config.rqCompatPort,
    host: config.host,
    clientKeys: config.apiKeys,
    adminKeys: config.adminApiKeys,
    functionAliases: config.rqCompatFunctionAliases,
    limits: { maxConnections: config.rqCompatMaxConnections, ...options.limits },
  })
}
