import type { FetchOptions, FetchStrategy, PageContent } from '../fetch/index.ts'
import type { TaskContext } from './types.ts'

/** What the user reads while a harder fetch strategy takes over. */
export const ESCALATION_MESSAGES: Readonly<Record<FetchStrategy, string>> = {
  plain: 'Повторная загрузка страницы...',
  browser: 'Сайт просит проверку — открываем в браузере...',
}

/**
 * Connects a page parser to the fetch ladder: the parser's blocked verdict (captcha, IP block, challenge)
 * sends the page to the next strategy, and the parse of the page that was accepted is kept for the task.
 */
export function pageJudge<O extends { blocked: boolean; reason?: string; site?: string }>(
  parse: (page: PageContent) => O,
  ctx?: Pick<TaskContext, 'progress'>,
) {
  // The last page judged is the one the ladder returns: it is parsed once, not again by the task.
  const bodies = new Map<string, O>()
  const outcome = (page: PageContent): O => {
    const known = bodies.get(page.body)
    if (known) return known
    const fresh = parse(page)
    bodies.clear()
    bodies.set(page.body, fresh)
    return fresh
  }
  const options: Pick<FetchOptions, 'judge' | 'onEscalate'> = {
    judge(page) {
      const result = outcome(page)
      return result.blocked ? { blocked: true, reason: result.reason ?? 'blocked', site: result.site } : { blocked: false }
    },
    onEscalate: ctx ? (strategy) => ctx.progress(25, ESCALATION_MESSAGES[strategy]) : undefined,
  }
  return { options, outcomeOf: outcome }
}
