import type { CheerioAPI } from 'cheerio'
import { asArray, asRecord, safeJsonParse } from './embedded-state.ts'

export type JsonLdNode = Record<string, unknown>

/** Every JSON-LD object on the page, with @graph and top-level arrays flattened; bad blocks skipped. */
export function jsonLdNodes($: CheerioAPI): JsonLdNode[] {
  const nodes: JsonLdNode[] = []
  $('script[type="application/ld+json"]').each((_, el) => {
    collect(safeJsonParse($(el).text()), nodes, 0)
  })
  return nodes
}

/** The node's @type values, without any schema.org prefix. */
export function jsonLdTypes(node: JsonLdNode): string[] {
  return asArray(Array.isArray(node['@type']) ? node['@type'] : [node['@type']])
    .filter((t): t is string => typeof t === 'string')
    .map((t) => t.replace(/^https?:\/\/schema\.org\//, ''))
}

function collect(value: unknown, into: JsonLdNode[], depth: number): void {
  if (depth > 5) return
  if (Array.isArray(value)) {
    value.forEach((item) => collect(item, into, depth + 1))
    return
  }
  const node = asRecord(value)
  if (!node) return
  into.push(node)
  if (node['@graph']) collect(node['@graph'], into, depth + 1)
}
