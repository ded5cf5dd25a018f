import { describe, expect, it } from 'vitest'
import { ManualTargetSchema, manualTargetToProperty } from '../../../src/tasks/find-similar/manual-target.ts'
import { featuresOf } from '../../../src/tasks/report/features.ts'

const BASE = { city: 'Санкт-Петербург', district: 'Петроградский', total_area: 120, rooms: 3 }

describe('a flat typed in by hand', () => {
  it('becomes a property with only what the owner said', () => {
    const p = manualTargetToProperty(ManualTargetSchema.parse({ ...BASE, floor: 4, floors_total: 8, ceiling_height: 3, balconies: 1, lift: false, parking: 'underground' }))
    expect(p).toMatchObject({ region: 'spb', deal_type: 'sale', property_type: 'flat', total_area: 120, rooms: 3, floor: 4, floors_total: 8, ceiling_height: 3, price: null, year_built: null, repair: null, url: '' })
    expect(p.address).toBe('Санкт-Петербург, Петроградский')
    expect(featuresOf(p)).toMatchObject({ balconies: 1, lift: false, parking: 'underground', bathrooms: null })
  })

  it.each([
    [{ ...BASE, total_area: 5 }, 'total_area'],
    [{ ...BASE, rooms: 1.5 }, 'rooms'],
    [{ ...BASE, floor: 9, floors_total: 5 }, 'floor'],
    [{ ...BASE, ceiling_height: 12 }, 'ceiling_height'],
    [{ ...BASE, year_built: 1500 }, 'year_built'],
    [{ city: 'Москва', total_area: 50, rooms: 2 }, 'address'],
    [{ ...BASE, colour: 'red' }, ''],
  ])('refuses %j (%s)', (input, path) => {
    const parsed = ManualTargetSchema.safeParse(input)
    expect(parsed.success).toBe(false)
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(path)
  })
})
