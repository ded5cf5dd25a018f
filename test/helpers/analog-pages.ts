import { readFixture } from './fixture-server.ts'

const SAVED_OFFER = 'cian-offer-315831388.html'
const SAVED_ID = '315831388'
const SAVED_BUILDING = '"building":{"floorsCount":6,'

/**
 * A listing page built from the saved real cian offer (St Petersburg, 126.4 m², 3 rooms): its offer
 * id (and so its URL, og:url and state) replaced, and the building facts a search card lacks —
 * build year and ceiling height — added to the embedded state, where cian's own pages carry them.
 */
export function cianOfferPage(options: { offerId: string; buildYear?: number; ceilingHeight?: number }): string {
  const page = readFixture(SAVED_OFFER)
  if (!page.includes(SAVED_BUILDING)) throw new Error('the saved offer page changed: its building state was not found')
  const facts = [
    options.buildYear === undefined ? '' : `"buildYear":${options.buildYear},`,
    options.ceilingHeight === undefined ? '' : `"ceilingHeight":"${options.ceilingHeight}",`,
  ].join('')
  return page.replaceAll(SAVED_ID, options.offerId).replace(SAVED_BUILDING, `${SAVED_BUILDING}${facts}`)
}
