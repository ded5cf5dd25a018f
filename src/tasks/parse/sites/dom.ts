import * as cheerio from 'cheerio'
import type { CheerioAPI } from 'cheerio'
import { DomHandler, Parser } from 'htmlparser2'
import { cleanText } from './normalize.ts'

export type Pairs = Record<string, string>

/**
 * Real listing and search pages nest at most ~35 elements deep. htmlparser2 keeps its open-element stack
 * with Array#unshift and cheerio's tree search (domutils `find`) does the same, so both cost
 * O(elements × depth): a 400 KB page of 80 000 unclosed <div>s held a worker's event loop for ~30 s.
 */
export const MAX_NESTING_DEPTH = 128

/**
 * htmlparser2 instead of cheerio's default parse5: about 6× faster on real cards, and parse5 took 1.5 s
 * on 20 000 nested divs (94 s on 80 000). Our selectors need no spec-exact tree fixes such as implied <tbody>.
 */
const LOAD_OPTIONS = { xml: { xmlMode: false, decodeEntities: true } } as const

/**
 * Builds the DOM of the page cut before its first element deeper than maxDepth, as htmlparser2 itself nests it
 * (implied closes, void and unmatched tags included): the markup before that tag, and nothing after. One pass
 * that stops at the cutoff, so the open-element stack never grows past maxDepth, and the page is tokenized
 * once (a separate depth pass before cheerio's own parse was a third of a search page's load time).
 */
class DepthLimitedHandler extends DomHandler {
  readonly maxDepth: number
  depth = 0
  cut = false
  source: Parser | undefined
  constructor(maxDepth: number) {
    super(undefined, LOAD_OPTIONS.xml)
    this.maxDepth = maxDepth
  }
  override onparserinit(parser: Parser): void {
    this.source = parser
    super.onparserinit(parser)
  }
  override onopentag(name: string, attribs: Record<string, string>): void {
    if (this.cut) return
    if (++this.depth > this.maxDepth) {
      this.cut = true
      this.source!.pause()
      return
    }
    super.onopentag(name, attribs)
  }
  override onclosetag(): void {
    if (this.cut) return
    this.depth--
    super.onclosetag()
  }
  override ontext(data: string): void {
    if (!this.cut) super.ontext(data)
  }
  override oncomment(data: string): void {
    if (!this.cut) super.oncomment(data)
  }
  override onprocessinginstruction(name: string, data: string): void {
    if (!this.cut) super.onprocessinginstruction(name, data)
  }
}

/** cheerio over the page cut before its first element deeper than MAX_NESTING_DEPTH: a hostile page loses only its abyss. */
export function loadHtml(html: string, maxDepth: number = MAX_NESTING_DEPTH): CheerioAPI {
  const handler = new DepthLimitedHandler(maxDepth)
  new Parser(handler, LOAD_OPTIONS.xml).end(html)
  // A paused parser never ends by itself: close what is open at the cut, as the end of a shorter page would.
  if (handler.cut) handler.onend()
  return cheerio.load(handler.root, LOAD_OPTIONS)
}

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
