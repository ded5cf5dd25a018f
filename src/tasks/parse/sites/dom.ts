import type { CheerioAPI } from 'cheerio'
import { cleanText } from './normalize.ts'

export type Pairs = Record<string, string>

/** Clean text of the first match, or null. */
export function textOf($: CheerioAPI, selector: string): string | null {
  return cleanText($(selector).first().text())
}

/** An attribute of the first match, trimmed, or null. */
export function attrOf($: CheerioAPI, selector: string, name: string): string | null {
  return cleanText($(selector).first().attr(name))
}

export function metaContent($: CheerioAPI, key: string): string | null {
  return (
    attrOf($, `meta[property="${key}"]`, 'content') ?? attrOf($, `meta[name="${key}"]`, 'content')
  )
}

/**
 * Label → value from blocks whose first text leaf is the label and the rest is the value
 * (cian's factoid, summary and fact items).
 */
export function pairsFromLeaves($: CheerioAPI, selector: string): Pairs {
  const pairs: Pairs = {}
  $(selector).each((_, el) => {
    const leaves = textLeaves($, el)
    if (leaves.length < 2) return
    const [label, ...rest] = leaves
    addPair(pairs, label, rest.join(' '))
  })
  return pairs
}

/** Label → value from items written "Label: value" (avito params, generic lists). */
export function pairsFromColonText($: CheerioAPI, selector: string): Pairs {
  const pairs: Pairs = {}
  $(selector).each((_, el) => {
    const text = cleanText($(el).text())
    if (!text) return
    const colon = text.indexOf(':')
    if (colon <= 0 || colon > 60) return
    addPair(pairs, text.slice(0, colon), text.slice(colon + 1))
  })
  return pairs
}

export function addPair(pairs: Pairs, label: string | null, value: string | null): void {
  const key = cleanText(label)?.replace(/\s*:$/, '')
  const text = cleanText(value)
  if (!key || !text || key.length > 80 || text.length > 500) return
  if (!(key in pairs)) pairs[key] = text
}

type Node = Parameters<CheerioAPI>[0]

/** Texts of the element's descendants that hold text directly, in document order. */
function textLeaves($: CheerioAPI, root: Node): string[] {
  const leaves: string[] = []
  const visit = (node: Node, depth: number): void => {
    const element = $(node)
    if (element.is('script, style, svg') || depth > 40) return
    const children = element.children().not('br, wbr')
    if (children.length === 0) {
      const text = cleanText(element.text())
      if (text) leaves.push(text)
      return
    }
    children.each((_, child) => visit(child, depth + 1))
  }
  visit(root, 0)
  return leaves
}
