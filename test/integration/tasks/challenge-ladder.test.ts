import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { startChallengeSite, type ChallengeSite } from '../../helpers/challenge-site.ts'
import { readFixture } from '../../helpers/fixture-server.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

/** Jobs through the ladder: a parse and a live analog search, each behind the same JS cookie challenge. */

const LISTING = '/sale/flat/315831388/'
const expected = JSON.parse(readFixture('cian-offer-315831388.expected.json'))
let spb: ChallengeSite
let moscow: ChallengeSite
let service: TestService

beforeAll(async () => {
  spb = await startChallengeSite({ [LISTING]: 'cian-offer-315831388.html' })
  moscow = await startChallengeSite({ '/cat.php': 'cian-serp-rent-moscow-2023.html' })
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    domain: true,
    env: {
      FETCH_REWRITE: `https://spb.cian.ru=${spb.origin},https://www.cian.ru=${moscow.origin}`,
      FETCH_STRATEGIES: 'plain,browser',
      FETCH_RETRIES: '0',
      FETCH_TIMEOUT_MS: '60000',
    },
  })
})
afterAll(async () => {
  await service?.close()
  await Promise.all([spb?.close(), moscow?.close()])
})

async function post(kind: string, body: object): Promise<string> {
  const response = await fetch(`${service.baseUrl}/api/tasks/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(202)
  return (await response.json()).job_id
}

// Chromium on a busy two-core machine takes seconds per page: these tests get minutes, not the default 30 s.
describe('a job behind a JavaScript challenge', { timeout: 180_000 }, () => {
  it('parse: plain is blocked, the user reads that the browser takes over, and the job finishes with the listing', async () => {
    const hold = spb.holdNextPass()
    const jobId = await post('parse', { url: `https://spb.cian.ru${LISTING}`, session_id: 'challenge-1' })
    // The browser passed the challenge and asks for the page again: the poller sees the browser message meanwhile.
    await hold.reached
    const during = await until('the browser progress message', async () => {
      const body = await (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
      return body.message === 'Сайт просит проверку — открываем в браузере...' ? body : undefined
    })
    expect(during.status).toBe('started')
    hold.release()

    const status = await waitForStatus(service.baseUrl, jobId, ['finished', 'failed'], 120_000)
    expect(status.status, status.error).toBe('finished')
    const { data, attempts } = status.result
    for (const field of ['offer_id', 'price', 'total_area', 'rooms', 'floor', 'address', 'city']) {
      expect(data[field], field).toEqual(expected[field])
    }
    expect(attempts.map((a: { strategy: string; outcome: string }) => `${a.strategy}:${a.outcome}`)).toEqual(['plain:blocked', 'browser:ok'])
    expect(attempts[0].reason).toMatch(/^challenge/)
    expect(spb.challenged.length).toBeGreaterThanOrEqual(2)
  })

  it('find-similar: the live search page behind the challenge is fetched by the browser rung', async () => {
    const target = { deal_type: 'rent', property_type: 'flat', region: 'msk', city: 'Москва', price: 80000, total_area: 45, rooms: 2 }
    const jobId = await post('find-similar', { session_id: 'challenge-2', target_property: target, limit: 10, source: 'live' })
    const status = await waitForStatus(service.baseUrl, jobId, ['finished', 'failed'], 150_000)
    expect(status.status, status.error).toBe('finished')
    expect(status.result.count).toBeGreaterThanOrEqual(5)
    const attempts = status.result.fetch_attempts as Array<{ strategy: string; outcome: string }>
    expect(attempts[0]).toMatchObject({ strategy: 'plain', outcome: 'blocked' })
    expect(attempts.filter((a) => a.strategy === 'browser' && a.outcome === 'ok').length).toBeGreaterThanOrEqual(1)
    expect(moscow.challenged[0]).toBe('/cat.php')
    expect(moscow.passed).toContain('/cat.php')
  })
})
