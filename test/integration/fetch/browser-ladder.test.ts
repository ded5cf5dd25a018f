import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { AppError } from '../../../src/errors.ts'
import { createBrowserPool, createFetcher, type BrowserPool } from '../../../src/fetch/index.ts'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { pageJudge } from '../../../src/tasks/page-judge.ts'
import type { ParseOutcome } from '../../../src/tasks/parse/property.ts'
import { startChallengeSite, type ChallengeSite } from '../../helpers/challenge-site.ts'
import { readFixture } from '../../helpers/fixture-server.ts'

/** The ladder at the fetcher: a JS cookie challenge stops plain and is passed by the real browser. */

const LISTING = '/sale/flat/315831388/'
const expected = JSON.parse(readFixture('cian-offer-315831388.expected.json'))
let site: ChallengeSite
let pool: BrowserPool

const configFor = (strategies: string) =>
  loadConfig({ FETCH_REWRITE: `https://spb.cian.ru=${site.origin}`, FETCH_STRATEGIES: strategies, FETCH_RETRIES: '0', FETCH_TIMEOUT_MS: '60000' })

beforeAll(async () => {
  site = await startChallengeSite({ [LISTING]: 'cian-offer-315831388.html' })
  pool = createBrowserPool({ executablePath: '/usr/bin/chromium', poolSize: 2, contextMaxPages: 20, contextMaxAgeMs: 300_000, restartAfterPages: 200 })
})
afterAll(async () => {
  await pool?.close()
  await site?.close()
})

function judge() {
  return pageJudge<ParseOutcome>((page) => parsePage(page.body, page.url))
}

// Chromium on a busy two-core machine takes seconds per page: these tests get minutes, not the default 30 s.
describe('the fetch ladder against a JavaScript challenge', { timeout: 180_000 }, () => {
  it('plain alone gets the challenge page, which is judged blocked (never a listing)', async () => {
    const fetcher = createFetcher(configFor('plain'), { browserPool: pool })
    const judged = judge()
    const error = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judged.options).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AppError)
    expect((error as AppError).code).toBe('SiteBlocked')
    expect((error as AppError).message).toMatch(/challenge: cookie and reload script/)
    const { attempts } = (error as AppError).details as { attempts: Array<Record<string, unknown>> }
    expect(attempts).toHaveLength(1)
    expect(attempts[0]).toMatchObject({ strategy: 'plain', proxy: null, outcome: 'blocked' })
    expect(site.challenged).toContain(LISTING)
    expect(site.passed).not.toContain(LISTING)
  })

  it('plain,browser: plain is blocked, the browser runs the challenge and gets the listing with its fields right', async () => {
    const fetcher = createFetcher(configFor('plain,browser'), { browserPool: pool })
    const judged = judge()
    const escalations: string[] = []
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, {
      ...judged.options,
      onEscalate: (strategy) => void escalations.push(strategy),
    })
    expect(escalations).toEqual(['browser'])
    expect(page.strategy).toBe('browser')
    expect(page.url).toBe(`https://spb.cian.ru${LISTING}`)
    expect(page.attempts.map(({ strategy, outcome }) => [strategy, outcome])).toEqual([
      ['plain', 'blocked'],
      ['browser', 'ok'],
    ])
    for (const attempt of page.attempts) expect(attempt.ms).toBeGreaterThanOrEqual(0)
    const outcome = judged.outcomeOf(page)
    expect(outcome.blocked).toBe(false)
    if (outcome.blocked) return
    for (const field of ['offer_id', 'price', 'total_area', 'rooms', 'floor', 'floors_total', 'city', 'deal_type', 'market']) {
      expect(outcome.property[field as keyof typeof outcome.property], field).toEqual(expected[field])
    }
    expect(site.passed).toContain(LISTING)
  })

  it('a warm context keeps the cookie: the next browser fetch passes without the challenge', async () => {
    const fetcher = createFetcher(configFor('browser'), { browserPool: pool })
    const before = site.challenged.length
    const page = await fetcher.fetchPage(`https://spb.cian.ru${LISTING}`, judge().options)
    expect(page.attempts).toEqual([expect.objectContaining({ strategy: 'browser', outcome: 'ok' })])
    expect(pool.stats().launches).toBe(1)
    // With two contexts in the pool, the page may land in the one that has not passed yet: at most one more challenge.
    expect(site.challenged.length - before).toBeLessThanOrEqual(1)
  })
})
