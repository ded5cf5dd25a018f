/**
 * @module Sale scenarios and time on market, from the analogs' own history in the listings store:
 * when each was published (or first seen), whether it is still listed, and its price changes.
 *
 * An analog not seen for GONE_AFTER_DAYS left the market (sold or withdrawn): its exposure is known.
 * One still listed has been on sale at least as long as we have seen it (a censored observation).
 * The expected time to sell at a price is the Kaplan–Meier median exposure of the analogs priced
 * like it relative to the market (its band of price per m² against the analogs' median). A band
 * with fewer than MIN_PER_BAND analogs, or too little history overall, gives no number: "мало данных".
 */

/** What the store knows about one analog's time on the market. */
export type MarketHistory = {
  url: string
  /** Price per m² now. */
  price_per_sqm: number
  /** On the market since: its publication date when the site gave one, else when the store first saw it. */
  first_seen: string
  last_seen: string
  /** [{price, seen_at}], oldest first. */
  price_history: ReadonlyArray<{ price: number; seen_at: string }>
}

export type Scenario = {
  /** Asking price relative to the fair price: −0.05, 0, 0.05, 0.1. */
  shift: number
  label: string
  price: number
  /** Analogs priced like this (their band of price per m² against the market). */
  analogs: number
  /** Of them, left the market (exposure known). */
  sold: number
  /** Kaplan–Meier median days to sell; null when the band is too thin or the median is not reached. */
  days: number | null
  /** When the median is not reached: at least this many days (the longest exposure seen). */
  days_at_least: number | null
  confidence: 'высокая' | 'средняя' | 'низкая' | null
  note: string
}

export type SaleScenarios = {
  /** A sale or a rental: the words the report uses for leaving the market. */
  deal: 'sale' | 'rent'
  available: boolean
  /** Plain statement of how the estimate was made, or why there is none. */
  method: string
  analogs_with_history: number
  sold: number
  still_listed: number
  /** Median days the still-listed analogs have been on sale. */
  median_days_listed: number | null
  /** Analogs whose asking price went down while we watched, and the median cut. */
  price_cuts: { count: number; median_cut: number | null }
  scenarios: Scenario[]
}

/** The report's words for a listing that leaves the market, by deal type. */
export const DEAL_WORDS = Object.freeze({
  sale: {
    section: 'Сценарии продажи и срок экспозиции',
    term: 'Срок продажи',
    termOf: 'срока продажи',
    gone: 'сняты с продажи',
    goneCount: 'снято с продажи',
    still: 'ещё продаются',
    caveat: 'Снятие с продажи не всегда означает продажу',
  },
  rent: {
    section: 'Сценарии сдачи и срок экспозиции',
    term: 'Срок сдачи',
    termOf: 'срока сдачи',
    gone: 'сняты с публикации',
    goneCount: 'снято с публикации',
    still: 'ещё сдаются',
    caveat: 'Снятие объявления не всегда означает, что квартиру сдали',
  },
})

export const SCENARIO_RULES = Object.freeze({
  shifts: [-0.05, 0, 0.05, 0.1],
  /** Half-width of a scenario's band of price per m² against the analogs' median. */
  bandHalfWidth: 0.025,
  /** Not seen for this long: the listing left the market. */
  goneAfterDays: 14,
  /** Fewer analogs with any history than this: no scenario numbers at all. */
  minWithHistory: 5,
  minPerBand: 3,
  /** Sold analogs in a band for "высокая" / "средняя" confidence. */
  soldForHigh: 5,
  soldForMedium: 2,
})

const DAY_MS = 86_400_000

/** Kaplan–Meier median of (days, ended) observations; null when survival never falls to 0.5. */
export function kaplanMeierMedian(observations: ReadonlyArray<{ days: number; ended: boolean }>): number | null {
  const times = [...new Set(observations.filter((o) => o.ended).map((o) => o.days))].sort((a, b) => a - b)
  let survival = 1
  for (const t of times) {
    const atRisk = observations.filter((o) => o.days >= t).length
    const ended = observations.filter((o) => o.ended && o.days === t).length
    survival *= 1 - ended / atRisk
    if (survival <= 0.5) return t
  }
  return null
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function bandOf(deviation: number, shift: number, shifts: readonly number[]): boolean {
  const h = SCENARIO_RULES.bandHalfWidth
  const lowest = shift === Math.min(...shifts)
  const highest = shift === Math.max(...shifts)
  return (lowest || deviation >= shift - h) && (highest || deviation < shift + h)
}

const SHIFT_LABEL = (shift: number) => (shift === 0 ? 'справедливая цена' : `${shift > 0 ? '+' : '−'}${Math.abs(shift * 100)} % к справедливой`)

export function estimateScenarios(input: {
  fairPrice: number
  /** The analogs' median price per m² (the market the bands are measured against). */
  marketPerSqm: number
  history: readonly MarketHistory[]
  now: Date
  deal: 'sale' | 'rent'
}): SaleScenarios {
  const R = SCENARIO_RULES
  const W = DEAL_WORDS[input.deal]
  const nowMs = input.now.getTime()
  const observed = input.history.map((h) => {
    const lastMs = Date.parse(h.last_seen)
    const ended = nowMs - lastMs >= R.goneAfterDays * DAY_MS
    const days = Math.floor(((ended ? lastMs : nowMs) - Date.parse(h.first_seen)) / DAY_MS)
    return { ...h, days, ended, deviation: h.price_per_sqm / input.marketPerSqm - 1 }
  })
  // Seen on one day only: nothing known about its exposure.
  const withHistory = observed.filter((o) => o.days >= 1)
  const sold = withHistory.filter((o) => o.ended)
  const listed = withHistory.filter((o) => !o.ended)
  const cuts = input.history
    .map((h) => {
      const first = h.price_history[0]?.price
      const last = h.price_history.at(-1)?.price
      return first && last && last < first ? 1 - last / first : null
    })
    .filter((x): x is number => x !== null)
  const base = {
    deal: input.deal,
    analogs_with_history: withHistory.length,
    sold: sold.length,
    still_listed: listed.length,
    median_days_listed: median(listed.map((o) => o.days)),
    price_cuts: { count: cuts.length, median_cut: median(cuts) },
  }
  if (withHistory.length < R.minWithHistory || sold.length === 0) {
    return {
      ...base,
      available: false,
      method: `Недостаточно данных для оценки ${W.termOf}: история экспозиции известна у ${withHistory.length} аналогов (нужно не меньше ${R.minWithHistory}), ${W.goneCount} ${sold.length}. ${W.term} не указан.`,
      scenarios: [],
    }
  }
  const scenarios = R.shifts.map((shift): Scenario => {
    const band = withHistory.filter((o) => bandOf(o.deviation, shift, R.shifts))
    const bandSold = band.filter((o) => o.ended).length
    const price = Math.round((input.fairPrice * (1 + shift)) / 1000) * 1000
    if (band.length < R.minPerBand) {
      return { shift, label: SHIFT_LABEL(shift), price, analogs: band.length, sold: bandSold, days: null, days_at_least: null, confidence: null, note: `мало данных: ${band.length} аналогов с такой ценой` }
    }
    const days = kaplanMeierMedian(band.map((o) => ({ days: o.days, ended: o.ended })))
    const confidence = bandSold >= R.soldForHigh ? 'высокая' : bandSold >= R.soldForMedium ? 'средняя' : 'низкая'
    const longest = Math.max(...band.map((o) => o.days))
    return {
      shift,
      label: SHIFT_LABEL(shift),
      price,
      analogs: band.length,
      sold: bandSold,
      days,
      days_at_least: days === null ? longest : null,
      confidence,
      note: `${band.length} аналогов, из них ${W.gone} ${bandSold}`,
    }
  })
  return {
    ...base,
    available: true,
    method:
      `По истории ${withHistory.length} аналогов в базе объявлений: ${sold.length} ${W.gone} (не видны ${R.goneAfterDays} дней и дольше — срок экспозиции известен), ${listed.length} ${W.still} (срок не меньше наблюдаемого). ` +
      `Для каждой цены взяты аналоги с похожим отклонением цены за м² от медианы рынка (±${String(R.bandHalfWidth * 100).replace('.', ',')} %), срок — медиана по методу Каплана–Мейера. ` +
      `${W.caveat}, поэтому срок — ориентир, а не обещание.`,
    scenarios,
  }
}
