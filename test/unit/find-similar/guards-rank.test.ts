import { describe, expect, it } from 'vitest'
import { applyGuards, checkCandidate, COMPLEX_LIMITS } from '../../../src/tasks/find-similar/guards.ts'
import { scoreAnalog, selectAnalogs } from '../../../src/tasks/find-similar/rank.ts'
import { listing } from './listings.ts'

const target = listing({
  price: 24_000_000, // 400 000 ₽/m²
  total_area: 60,
  street: 'улица Правды',
  house: '10',
  metro: ['Белорусская'],
  district: 'Беговой',
  residential_complex: 'Правда',
  lat: 55.785,
  lon: 37.58,
})

describe('checkCandidate', () => {
  it('names each rejection', () => {
    expect(checkCandidate(target, { ...target })).toBe('target_itself')
    expect(checkCandidate(target, listing({ offer_id: target.offer_id }))).toBe('target_itself')
    expect(checkCandidate(target, listing({ region: 'spb', city: 'Санкт-Петербург', address: 'Санкт-Петербург, Невский, 1' }))).toBe('other_region')
    expect(checkCandidate(target, listing({ region: null, city: null, address: 'ул. Пушкина, 1' }))).toBe('unknown_region')
    expect(checkCandidate(target, listing({ deal_type: 'rent', price: 100_000 }))).toBe('other_deal_type')
    expect(checkCandidate(target, listing({ price: null }))).toBe('missing_price')
    expect(checkCandidate(target, listing({ total_area: null }))).toBe('missing_area')
    // 80 M / 24 M = 3.33 > 3
    expect(checkCandidate(target, listing({ price: 80_000_000, total_area: 89 }))).toBe('price_ratio')
    // 95 / 60 = 1.58 > 1.5
    expect(checkCandidate(target, listing({ price: 38_000_000, total_area: 95 }))).toBe('area_ratio')
    // 31.5 M / 60 = 525 000 ₽/m²: +31 % > 30 %
    expect(checkCandidate(target, listing({ price: 31_500_000 }))).toBe('price_per_sqm_deviation')
    // the same +31 % passes the relaxed ЖК limit of 40 %
    expect(checkCandidate(target, listing({ price: 31_500_000 }), COMPLEX_LIMITS)).toBeNull()
    expect(checkCandidate(target, listing({ price: 25_000_000 }))).toBeNull()
  })
})

describe('applyGuards', () => {
  it('drops duplicates by URL and by address+area+floor, and skips re-found URLs silently', () => {
    const a = listing({ street: 'улица Правды', house: '12' })
    const sameFlatOtherAgent = listing({ street: 'улица Правды', house: '12' })
    const b = listing({ house: '14' })
    const r = applyGuards(target, [a, { ...a }, sameFlatOtherAgent, b], { alreadyKept: [b] })
    expect(r.kept.map((p) => p.url)).toEqual([a.url])
    expect(r.rejected.map((x) => x.reason)).toEqual(['duplicate_url', 'duplicate_listing'])
    expect(r.refound).toBe(1)
  })
})

describe('scoreAnalog / selectAnalogs', () => {
  it('explains the choice in Russian and measures distance', () => {
    const near = listing({
      price: 24_720_000, // 412 000 ₽/m², +3 %
      total_area: 60,
      street: 'улица Правды',
      house: '10',
      metro: ['Белорусская', 'Савёловская'],
      district: 'Беговой',
      residential_complex: 'ЖК «Правда»',
      lat: 55.786,
      lon: 37.58,
      floor: 7,
    })
    const s = scoreAnalog(target, near)
    expect(s.reasons).toEqual(
      expect.arrayContaining([
        'тот же ЖК «Правда»',
        'тот же дом',
        'та же станция метро (Белорусская)',
        'тот же район (Беговой)',
        'цена за м² +3 %',
        'площадь ±0 %',
        'столько же комнат (2)',
        'тоже средний этаж',
      ]),
    )
    // 0.001° of latitude ≈ 111 m
    expect(s.distance_km).toBeCloseTo(0.11, 2)
    expect(s.reasons).toContain('в 111 м от объекта')
    expect(s.similarity).toBeGreaterThan(0.9)
    expect(s.similarity).toBeLessThanOrEqual(1)
  })

  it('ranks the closer analog first, caps at the limit and reports rejections', () => {
    const close = listing({ price: 24_300_000, metro: ['Белорусская'], lat: 55.786, lon: 37.581 })
    const far = listing({ price: 28_000_000, total_area: 70, rooms: 3, lat: 55.7, lon: 37.7 })
    const farther = listing({ price: 20_000_000, total_area: 55, rooms: 3, lat: 55.6, lon: 37.4 })
    const bad = listing({ price: 90_000_000 })
    const { analogs, rejected } = selectAnalogs(target, [far, bad, farther, close, target], 2)
    expect(analogs.map((a) => a.url)).toEqual([close.url, far.url])
    expect(analogs[1].distance_km).toBeGreaterThan(9)
    expect(rejected).toEqual([
      { url: bad.url, offer_id: bad.offer_id, reason: 'price_ratio', deal_type: bad.deal_type, city: bad.city },
      { url: target.url, offer_id: target.offer_id, reason: 'target_itself', deal_type: target.deal_type, city: target.city },
    ])
  })
})
