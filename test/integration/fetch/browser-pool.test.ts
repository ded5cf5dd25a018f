import { afterAll, describe, expect, it } from 'vitest'
import { createBrowserPool } from '../../../src/fetch/index.ts'

/** The pool's bounds: contexts = pages at once, contexts replaced after N pages, Chromium relaunched after M. */

const pool = createBrowserPool({ executablePath: '/usr/bin/chromium', poolSize: 2, contextMaxPages: 2, contextMaxAgeMs: 300_000, restartAfterPages: 5 })
afterAll(() => pool.close())

// A page served by route only (no network): what each test page shows is which browser and context it ran in.
async function visit() {
  return pool.withPage(async (page) => {
    await page.route('**/*', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>ok</title>' }))
    await page.goto('https://www.cian.ru/', { waitUntil: 'domcontentloaded' })
    return { context: page.context(), browser: page.context().browser() }
  })
}

describe('browser pool', { timeout: 120_000 }, () => {
  it('never has more pages open than its size', async () => {
    let open = 0
    let most = 0
    // The first two pages wait for each other, so two at once is reached for sure; the pool must stop a third.
    let bothOpen!: () => void
    const barrier = new Promise<void>((resolve) => (bothOpen = resolve))
    await Promise.all(
      Array.from({ length: 6 }, () =>
        pool.withPage(async (page) => {
          open++
          most = Math.max(most, open)
          if (open === 2) bothOpen()
          await barrier
          await page.setContent('<p>x</p>')
          open--
        }),
      ),
    )
    expect(most).toBe(2)
    expect(pool.stats().busy).toBe(0)
  })

  it('replaces a context after contextMaxPages and relaunches Chromium after restartAfterPages', async () => {
    const before = pool.stats()
    const visits = []
    for (let i = 0; i < 6; i++) visits.push(await visit())
    const contexts = new Set(visits.map((v) => v.context))
    // One page at a time, two pages per context: a new context at least every second page.
    expect(contexts.size).toBeGreaterThanOrEqual(3)
    expect(new Set(visits.map((v) => v.browser)).size).toBeGreaterThanOrEqual(2)
    expect(pool.stats().launches).toBeGreaterThan(before.launches)
    // The retired Chromium is closed once its last page is done.
    expect(visits[0]!.browser?.isConnected()).toBe(false)
    expect(pool.stats().contextsOpen).toBeLessThanOrEqual(2)
  })
})
