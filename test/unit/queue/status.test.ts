import { describe, expect, it } from 'vitest'
import { jobToStatusBody, type JobRow, type Status } from '../../../src/queue/status.ts'

const base: JobRow & { status: Status } = {
  id: '2f0e4a8b-1234-4678-9abc-def012345678',
  kind: 'parse',
  status: 'queued',
  priority: 'normal',
  progress: 0,
  message: null,
  session_id: 's',
  created_at: new Date('2026-01-15T10:00:00Z'),
  started_at: null,
  ended_at: null,
  attempts: 0,
  max_attempts: 3,
  next_attempt_at: null,
  result: { success: true },
  error: null,
  error_code: null,
  stack: 'Error: x\n    at y',
  depends_on: [],
}

describe('jobToStatusBody', () => {
  it.each([
    ['queued', 'Задача в очереди...'],
    ['deferred', 'Ожидание предыдущей задачи...'],
    ['scheduled', 'Запланировано...'],
    ['started', 'Обработка...'],
    ['finished', 'Готово'],
    ['failed', 'Ошибка'],
    ['canceled', 'Отменено'],
  ] as const)('gives %s a default Russian message', (status, message) => {
    expect(jobToStatusBody({ ...base, status }).message).toBe(message)
  })

  it('shows result only when finished and error only when failed or canceled', () => {
    expect(jobToStatusBody({ ...base, status: 'finished' })).toHaveProperty('result')
    expect(jobToStatusBody({ ...base, status: 'started' })).not.toHaveProperty('result')
    expect(jobToStatusBody({ ...base, status: 'failed', error: 'boom' }).error).toBe('boom')
    expect(jobToStatusBody({ ...base, status: 'failed' }).error).toBe('Job failed')
    expect(jobToStatusBody({ ...base, status: 'queued', error: 'old' })).not.toHaveProperty('error')
  })

  it('shows when a scheduled job runs next and why it waits', () => {
    const body = jobToStatusBody({ ...base, status: 'scheduled', next_attempt_at: new Date('2026-01-15T10:00:05Z'), error: 'HTTP 503' })
    expect(body).toMatchObject({ next_attempt_at: '2026-01-15T10:00:05.000Z', error: 'HTTP 503' })
  })

  it('puts the error code beside the error, and only there', () => {
    expect(jobToStatusBody({ ...base, status: 'failed', error: 'gone', error_code: 'ListingNotFound' })).toMatchObject({ error: 'gone', error_code: 'ListingNotFound' })
    expect(jobToStatusBody({ ...base, status: 'failed', error: 'x' })).not.toHaveProperty('error_code')
    expect(jobToStatusBody({ ...base, status: 'queued', error: 'old', error_code: 'JobTimeout' })).not.toHaveProperty('error_code')
  })

  it('never exposes the stack (RQ exc_info stays in the failed_jobs view)', () => {
    expect(JSON.stringify(jobToStatusBody({ ...base, status: 'failed', error: 'x' }))).not.toContain('at y')
  })

  it('writes timestamps as ISO-8601 with milliseconds', () => {
    expect(jobToStatusBody(base).created_at).toBe('2026-01-15T10:00:00.000Z')
  })
})
