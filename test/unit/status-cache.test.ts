import { describe, expect, it } from 'vitest'
import type { Listener } from '../../src/queue/listener.ts'
import { createStatusCache } from '../../src/queue/status-cache.ts'

/** A LISTEN session that is always caught up, with a hand for delivering notifications. */
function connectedListener() {
  const handlers = new Map<string, Array<(payload: string) => void>>()
  const listener: Listener = {
    listening: true,
    on: (channel, handler) => void handlers.set(channel, [...(handlers.get(channel) ?? []), handler]),
    onReconnect() {},
    sync: async () => true,
    async close() {},
  }
  return { listener, notify: (payload: string) => handlers.get('status')?.forEach((handler) => handler(payload)) }
}

const rendered = (id: string, bytes: number) => ({ body: { id }, json: Buffer.alloc(bytes, 'x') })
const later = () => Date.now() + 60_000

describe('status cache bounds', () => {
  it('keeps at most 16 MiB of JSON, dropping the least recently used', async () => {
    const cache = createStatusCache<{ id: string }>(connectedListener().listener, 'status')
    for (let i = 0; i < 20; i++) {
      cache.begin(`job-${i}`).done({ rendered: rendered(`job-${i}`, 2 ** 20), expiresAt: later() })
      // job-0 stays in use, so it is never the one dropped.
      expect(await cache.get('job-0')).toBeDefined()
    }
    expect(cache.size().bytes).toBeLessThanOrEqual(16 * 2 ** 20)
    expect(cache.size().entries).toBe(16)
    expect(await cache.get('job-1')).toBeUndefined()
    expect(await cache.get('job-19')).toBeDefined()
  })

  it('does not keep a reading that an eviction of its job overtook', async () => {
    const { listener, notify } = connectedListener()
    const cache = createStatusCache<{ id: string }>(listener, 'status')
    const reading = cache.begin('job')
    notify('job')
    reading.done({ rendered: rendered('job', 10), expiresAt: later() })
    expect(await cache.get('job')).toBeUndefined()
    expect(cache.size()).toEqual({ entries: 0, bytes: 0 })
  })

  it('serves nothing past its deadline, and nothing at all without LISTEN', async () => {
    const cache = createStatusCache<{ id: string }>(connectedListener().listener, 'status')
    cache.begin('job').done({ rendered: rendered('job', 10), expiresAt: Date.now() - 1 })
    expect(await cache.get('job')).toBeUndefined()
    const polling = createStatusCache<{ id: string }>({ ...connectedListener().listener, listening: false }, 'status')
    polling.begin('job').done({ rendered: rendered('job', 10), expiresAt: later() })
    expect(await polling.get('job')).toBeUndefined()
  })
})
