import type { Property } from '../property.ts'
import {
  cleanText,
  normalizeLabel,
  parseArea,
  parseCeilingHeight,
  parseCurrency,
  parseFloor,
  parseLandArea,
  parseNumber,
  parsePrice,
  parseRooms,
  parseYear,
  toPositive,
  toPositiveInt,
} from './normalize.ts'

type Fields = Partial<Property>
type Rule = { label: RegExp; apply: (value: string, fields: Fields) => void }

/**
 * Russian labels → property fields. Order matters: the first rule whose label matches wins,
 * and a field already set by an earlier label is kept (so "Ремонт" beats "Отделка").
 */
const RULES: Rule[] = [
  { label: /^(общая площадь|площадь общая|площадь квартиры|площадь|общая)$/, apply: setArea('total_area') },
  { label: /^(жилая площадь|жилая)$/, apply: setArea('living_area') },
  { label: /^(площадь кухни|кухня)$/, apply: setArea('kitchen_area') },
  { label: /^(площадь участка|участок|площадь земли)$/, apply: (v, f) => setOnce(f, 'land_area', parseLandArea(v)) },
  { label: /^(количество комнат|комнат|комнаты|число комнат|комнатность)$/, apply: (v, f) => setOnce(f, 'rooms', parseRooms(v)) },
  { label: /^этаж$/, apply: applyFloor },
  {
    label: /^(этажей в доме|этажность|количество этажей|этажность дома|этажей|всего этажей)$/,
    apply: (v, f) => setOnce(f, 'floors_total', toPositiveInt(parseNumber(v))),
  },
  { label: /^(год постройки|год постройки дома)$/, apply: (v, f) => setOnce(f, 'year_built', parseYear(v)) },
  {
    label: /^(год сдачи|срок сдачи|сдача|сдача дома|срок сдачи дома)$/,
    apply: (v, f) => setOnce(f, 'completion_year', parseYear(v)),
  },
  {
    label: /^(тип дома|материал стен|тип здания|материал дома|тип постройки)$/,
    apply: (v, f) => setOnce(f, 'house_type', cleanText(v)),
  },
  { label: /^(высота потолков|потолки)$/, apply: (v, f) => setOnce(f, 'ceiling_height', parseCeilingHeight(v)) },
  { label: /^(ремонт|отделка|состояние|ремонт квартиры)$/, apply: (v, f) => setOnce(f, 'repair', cleanText(v)) },
  { label: /^(цена|стоимость)$/, apply: applyPrice },
  {
    label: /^(цена за метр|цена за м²|цена за м2|цена за кв\. ?м|цена за 1 м²)$/,
    apply: (v, f) => setOnce(f, 'price_per_sqm', toPositive(parseNumber(v))),
  },
  { label: /^(адрес|местоположение)$/, apply: (v, f) => setOnce(f, 'address', cleanText(v)) },
  { label: /^(район)$/, apply: (v, f) => setOnce(f, 'district', cleanText(v)) },
  { label: /^(город|населенный пункт)$/, apply: applyCity },
  { label: /^(тип жилья|рынок)$/, apply: (v, f) => setOnce(f, 'market', parseMarket(v)) },
  { label: /^(жк|жилой комплекс|название жк)$/, apply: (v, f) => setOnce(f, 'residential_complex', cleanText(v)) },
]

/** The property fields that a page's label → value pairs give. */
export function fieldsFromCharacteristics(characteristics: Record<string, string>): Fields {
  const fields: Fields = {}
  for (const [label, value] of Object.entries(characteristics)) {
    const key = normalizeLabel(label)
    const rule = RULES.find((r) => r.label.test(key))
    if (rule) rule.apply(value, fields)
  }
  return fields
}

export function parseMarket(text: string | null | undefined): Property['market'] {
  if (typeof text !== 'string') return null
  if (/новостро|первичн/i.test(text)) return 'new_building'
  if (/вторич/i.test(text)) return 'secondary'
  return null
}

function setArea(key: 'total_area' | 'living_area' | 'kitchen_area') {
  return (value: string, fields: Fields) => setOnce(fields, key, parseArea(value))
}

function applyFloor(value: string, fields: Fields): void {
  const { floor, floorsTotal } = parseFloor(value)
  setOnce(fields, 'floor', floor)
  setOnce(fields, 'floors_total', floorsTotal)
}

/** "Астана, Нура р-н": the city is the first part; a district named as such may follow. */
function applyCity(value: string, fields: Fields): void {
  const [city, ...rest] = value.split(',').map((part) => cleanText(part))
  setOnce(fields, 'city', city ?? null)
  const district = rest.map((part) => /^(.+?(?:р-н|район))(?:\s|$)/i.exec(part ?? '')?.[1] ?? null).find((d) => d !== null)
  setOnce(fields, 'district', district ?? null)
}

function applyPrice(value: string, fields: Fields): void {
  setOnce(fields, 'price', parsePrice(value))
  setOnce(fields, 'currency', parseCurrency(value))
}

function setOnce<K extends keyof Property>(fields: Fields, key: K, value: Property[K] | null): void {
  if (value === null || value === undefined || fields[key] != null) return
  fields[key] = value
}
