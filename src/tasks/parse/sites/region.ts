/**
 * `region` is a lower-case Latin slug of the listing's city: 'msk' for Moscow, 'spb' for
 * St Petersburg, otherwise the transliterated city name ('tyumen', 'kazan'), matching how cian
 * subdomains and avito paths spell most cities. The analog search compares it for equality, so
 * every source must derive it the same way: from the city on the page first, the URL second.
 */

const CITY_SLUGS: Record<string, string> = {
  москва: 'msk',
  'санкт-петербург': 'spb',
  петербург: 'spb',
  'нижний новгород': 'nnovgorod',
  екатеринбург: 'ekaterinburg',
}

/** URL spellings that differ from the transliterated city name. */
const URL_SLUGS: Record<string, string> = {
  www: 'msk',
  moskva: 'msk',
  moscow: 'msk',
  'sankt-peterburg': 'spb',
  spb: 'spb',
  ekb: 'ekaterinburg',
  nn: 'nnovgorod',
  nizhniy_novgorod: 'nnovgorod',
}

const TRANSLIT: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y',
  к: 'k', л: 'l', м: 'm', н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f',
  х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'sch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya',
}

/** The region slug for a Russian city name, or null. */
export function regionFromCity(city: string | null | undefined): string | null {
  if (typeof city !== 'string') return null
  const name = city.toLowerCase().replace(/ё/g, 'е').replace(/^г\.\s*/, '').trim()
  if (name === '') return null
  if (CITY_SLUGS[name]) return CITY_SLUGS[name]
  const slug = [...name]
    .map((ch) => TRANSLIT[ch] ?? (/[a-z0-9]/.test(ch) ? ch : '-'))
    .join('')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
  return slug === '' ? null : slug
}

/**
 * The region slug a listing URL implies: a cian/domclick subdomain ("spb.cian.ru"; bare
 * cian.ru is Moscow) or avito's first path segment ("/tyumen/kvartiry/…").
 */
export function regionFromUrl(url: string): string | null {
  const parsed = safeUrl(url)
  if (!parsed) return null
  const host = parsed.hostname.toLowerCase()
  if (host.endsWith('avito.ru')) {
    const segment = parsed.pathname.split('/').filter(Boolean)[0]
    return segment ? slugFromUrlPart(segment) : null
  }
  const match = /^(?:([a-z0-9-]+)\.)?(?:cian|domclick)\.ru$/.exec(host)
  if (!match) return null
  if (host.endsWith('cian.ru')) return slugFromUrlPart(match[1] ?? 'www')
  return match[1] && match[1] !== 'www' ? slugFromUrlPart(match[1]) : null
}

function slugFromUrlPart(part: string): string {
  return URL_SLUGS[part] ?? part
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url)
  } catch {
    return null
  }
}
