import { describe, expect, it } from 'vitest'
import { parseCianSerp } from '../../../src/tasks/find-similar/serp-cian.ts'
import { parsePage } from '../../../src/tasks/parse/parse-page.ts'
import { unixToIso } from '../../../src/tasks/parse/sites/normalize.ts'
import { readFixture } from '../../helpers/fixture-server.ts'

describe('publication dates (time on market)', () => {
  it('reads a cian offer page’s publicationDate', () => {
    const outcome = parsePage(readFixture('cian-offer-315831388.html'), 'https://spb.cian.ru/sale/flat/315831388/')
    // "publicationDate":1743705523 in the page state = 2025-04-03 21:38:43 Moscow time
    expect(!outcome.blocked && outcome.property.published_at).toBe('2025-04-03T18:38:43.000Z')
  })

  it('reads a cian search card’s addedTimestamp, and leaves pages without one null', () => {
    const serp = parseCianSerp(readFixture('cian-serp-rent-moscow-2023.html'), 'https://www.cian.ru/cat.php?deal_type=rent')
    if (serp.blocked) throw new Error('the saved search page parsed as blocked')
    const dated = serp.cards.filter((c) => c.published_at !== null)
    expect(dated.length).toBeGreaterThan(0)
    // 1687844200 is one of the page's addedTimestamps: 2023-06-27 05:36:40 UTC
    expect(serp.cards.map((c) => c.published_at)).toContain('2023-06-27T05:36:40.000Z')
    const avito = parsePage(readFixture('avito-item-7626114474.html'), 'https://www.avito.ru/tyumen/kvartiry/1-k._kvartira_50_m_516_et._7626114474')
    expect(!avito.blocked && avito.property.published_at).toBeNull()
  })

  it('refuses implausible timestamps', () => {
    expect(unixToIso(0)).toBeNull()
    expect(unixToIso(1743705523000)).toBeNull()
    expect(unixToIso(null)).toBeNull()
  })
})
