import { AppError } from '../../errors.ts'
import { resolveRegion } from '../find-similar/regions.ts'
import type { Property } from './property.ts'

const DEAL_RU = { sale: 'продажа', rent: 'аренда' } as const

/**
 * An analog the user adds by hand must be comparable: the same city (region) and deal type as the
 * flat being valued. Refuses with a message the wizard shows as it is.
 */
export function checkAddedAnalog(analog: Property, target: Property | null): void {
  if (!target) throw new AppError('PermanentTaskFailure', 'Сначала укажите оцениваемую квартиру: аналог не с чем сравнить')
  const mine = resolveRegion(target)
  const theirs = resolveRegion(analog)
  if (mine !== null && theirs !== mine) {
    const where = analog.city ?? analog.address?.split(',')[0] ?? 'неизвестный город'
    throw new AppError('PermanentTaskFailure', `Аналог не добавлен: объявление из другого города (${where}), а квартира — ${target.city ?? target.address?.split(',')[0] ?? 'в другом городе'}`, {
      details: { reason: 'other_region', analog_region: theirs, target_region: mine },
    })
  }
  const targetDeal = target.deal_type ?? 'sale'
  if (analog.deal_type !== null && analog.deal_type !== targetDeal) {
    throw new AppError('PermanentTaskFailure', `Аналог не добавлен: это ${DEAL_RU[analog.deal_type]}, а оценивается ${DEAL_RU[targetDeal]}`, {
      details: { reason: 'other_deal_type', analog_deal_type: analog.deal_type, target_deal_type: targetDeal },
    })
  }
  if (analog.url === target.url) throw new AppError('PermanentTaskFailure', 'Аналог не добавлен: это объявление оцениваемой квартиры')
}
