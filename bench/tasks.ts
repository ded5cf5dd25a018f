import { z } from 'zod'
import { defineTask } from '../src/tasks/types.ts'

/** Where a handler reports that it ran: the bench counts drains and measures pickup through it. */
export const hooks: { onRun: (payload: { t?: number; seq?: number; sys?: number }) => void } = { onRun: () => {} }

export const wallMs = () => performance.timeOrigin + performance.now()

const payload = z.object({ t: z.number().optional(), seq: z.number().optional(), sys: z.number().optional() })
const retry = { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 }

export const noopTask = defineTask({
  kind: 'noop',
  payload,
  retry,
  async handler(data) {
    hooks.onRun(data)
    return { ok: true }
  },
})

export const progressTask = defineTask({
  kind: 'progress5',
  payload,
  retry,
  async handler(data, ctx) {
    hooks.onRun(data)
    for (let step = 1; step <= 5; step++) await ctx.progress(step * 20, `Шаг ${step} из 5`)
    return { ok: true }
  },
})

let parseResult: object | undefined
/** What a finished parse job of the saved avito listing returns (≈5.7 KB of JSON): parsed once, on first use. */
async function savedParseResult(): Promise<object> {
  if (parseResult) return parseResult
  const { readFile } = await import('node:fs/promises')
  const { parsePage } = await import('../src/tasks/parse/parse-page.ts')
  const html = await readFile(new URL('../test/fixtures/pages/avito-item-7626114474.html', import.meta.url), 'utf8')
  const { property } = parsePage(html, 'https://www.avito.ru/tyumen/kvartiry/x_7626114474') as { property: object }
  parseResult = { success: true, data: property, session_id: null, source: 'server', attempts: [{ strategy: 'plain', proxy: null, outcome: 'ok', ms: 412 }] }
  return parseResult
}

/** Finishes with a parse job's result: the status bodies scenario d polls. */
export const parseResultTask = defineTask({
  kind: 'parse-result',
  payload,
  retry,
  async handler() {
    return savedParseResult()
  },
})

export const BENCH_TASKS = [noopTask, progressTask, parseResultTask]
