import { describe, expect, it } from 'vitest'
import {
  parseArea,
  parseCeilingHeight,
  parseFloor,
  parseLandArea,
  parseNumber,
  parsePrice,
  parseRooms,
  parseYear,
} from '../../../src/tasks/parse/sites/normalize.ts'
import { regionFromCity, regionFromUrl } from '../../../src/tasks/parse/sites/region.ts'
import { scoreField } from '../../helpers/scoring.ts'

describe('number and text normalisation', () => {
  it.each([
    ['126,4\u00a0м²', 126.4],
    ['78 000 000 ₽', 78_000_000],
    ['617\u2009089 ₽/м²', 617_089],
    ['2 совмещенных', 2],
    ['нет', null],
  ])('parseNumber(%j) = %j', (text, value) => expect(parseNumber(text)).toBe(value))

  it('reads price multipliers', () => {
    expect(parsePrice('7,2 млн ₽')).toBe(7_200_000)
    expect(parsePrice('350 тыс. ₽')).toBe(350_000)
  })

  it('never reads land units as flat area', () => {
    expect(parseArea('6 сот.')).toBeNull()
    expect(parseLandArea('6 сот.')).toBe(600)
    expect(parseLandArea('1,2 га')).toBe(12_000)
  })

  it('reads floors, rooms, years and ceilings', () => {
    expect(parseFloor('4 из 6')).toEqual({ floor: 4, floorsTotal: 6 })
    expect(parseFloor('5/16 эт.')).toEqual({ floor: 5, floorsTotal: 16 })
    expect(parseRooms('Студия, 25 м²')).toBe(0)
    expect(parseRooms('1-к. квартира, 50 м²')).toBe(1)
    expect(parseRooms('Сдается 3-комн. квартира')).toBe(3)
    expect(parseRooms('Двухкомнатная квартира')).toBe(2)
    expect(parseRooms('Квартира свободной планировки')).toBeNull()
    expect(parseYear('4 кв. 2027')).toBe(2027)
    expect(parseCeilingHeight('2,7 м')).toBe(2.7)
    expect(parseCeilingHeight('270 см')).toBe(2.7)
    expect(parseCeilingHeight('27 м')).toBeNull()
  })
})

describe('region slugs', () => {
  it('names Moscow and St Petersburg by their short codes', () => {
    expect(regionFromCity('Москва')).toBe('msk')
    expect(regionFromCity('Санкт-Петербург')).toBe('spb')
    expect(regionFromUrl('https://www.cian.ru/sale/flat/1/')).toBe('msk')
    expect(regionFromUrl('https://spb.cian.ru/sale/flat/1/')).toBe('spb')
  })

  it('spells other cities the same from the city name and from URLs', () => {
    expect(regionFromCity('Тюмень')).toBe('tyumen')
    expect(regionFromUrl('https://tyumen.cian.ru/rent/flat/1/')).toBe('tyumen')
    expect(regionFromUrl('https://www.avito.ru/tyumen/kvartiry/x_1')).toBe('tyumen')
    expect(regionFromUrl('https://tyumen.domclick.ru/card/rent__flat__1')).toBe('tyumen')
  })
})

describe('scoring rules', () => {
  it('applies tolerances, string normalisation and alternatives', () => {
    expect(scoreField('total_area', 126.44, 126.4, []).verdict).toBe('right')
    expect(scoreField('total_area', 126.5, 126.4, []).verdict).toBe('wrong')
    expect(scoreField('price', 78_000_001, 78_000_000, []).verdict).toBe('wrong')
    expect(scoreField('lat', 59.97115, 59.9711756, []).verdict).toBe('right')
    expect(scoreField('address', ' ЧЁРНАЯ  речка ', 'Черная речка', []).verdict).toBe('right')
    expect(scoreField('district', 'р-н Восточный', 'Восточный', ['р-н Восточный']).verdict).toBe('right')
    expect(scoreField('metro', [], ['Чкаловская'], []).verdict).toBe('missing')
  })
})
