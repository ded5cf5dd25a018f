import type { CheerioAPI } from 'cheerio'
import type { Property } from '../property.ts'
import { asArray, asRecord, dig } from './embedded-state.ts'
import { jsonLdNodes, jsonLdTypes, type JsonLdNode } from './json-ld.ts'
import { listingFromJsonLdNode } from './generic.ts'

/** Cards a search page repeats; two or more of one kind make a list, not an offer. */
const CARD_SELECTORS: Partial<Record<Property['source'], string>> = {
  cian: '[data-name="CardComponent"]',
  avito: '[data-marker="item"]',
}
const LIST_TYPES = new Set(['ItemList', 'OfferCatalog', 'SearchResultsPage'])
const MIN_CARDS = 2

/** True when the page is a search-results page: repeated listing cards, or a schema.org list of offers. */
export function isSerpPage($: CheerioAPI, _html: string, _url: string, source: Property['source']): boolean {
  const cards = CARD_SELECTORS[source]
  if (cards && $(cards).length >= MIN_CARDS) return true
  return listItems(jsonLdNodes($)).length >= MIN_CARDS
}

/** The cards of a schema.org ItemList / OfferCatalog, each read like a one-offer page's JSON-LD. */
export function serpCardsFromJsonLd($: CheerioAPI, pageUrl: string, source: Property['source']): Property[] {
  return listItems(jsonLdNodes($))
    .map((item) => listingFromJsonLdNode(item, pageUrl, source))
    .filter((card): card is Property => card !== null)
}

function listItems(nodes: JsonLdNode[]): JsonLdNode[] {
  const out: JsonLdNode[] = []
  for (const node of nodes) {
    if (!jsonLdTypes(node).some((t) => LIST_TYPES.has(t))) continue
    const elements = node.itemListElement ?? dig(node, 'mainEntity', 'itemListElement')
    for (const element of asArray(Array.isArray(elements) ? elements : [elements])) {
      const record = asRecord(element)
      if (!record) continue
      // A ListItem wraps the offer in `item`; a bare offer may stand in the list itself.
      const item = asRecord(record.item) ?? record
      if (jsonLdTypes(item).includes('ListItem') && !record.item) continue
      out.push(item)
    }
  }
  return out
}
