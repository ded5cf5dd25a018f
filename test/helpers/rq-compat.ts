import { createSilentLogger } from '../../src/log.ts'
import { createRqBackend, startRqCompatServer, type RqCompatOptions } from '../../src/rq-compat/index.ts'
import type { TestService } from './service.ts'

/** The Redis-protocol adapter over a test service's queue on an ephemeral loopback port; no keys or aliases unless given. */
export function startTestAdapter(service: TestService, options: Partial<Omit<RqCompatOptions, 'backend' | 'log'>> = {}) {
  return startRqCompatServer({
    backend: createRqBackend(service.queue, service.config),
    log: createSilentLogger(),
    port: 0,
    host: '127.0.0.1',
    clientKeys: [],
    adminKeys: [],
    functionAliases: new Map(),
    ...options,
  })
}
