import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { AppError, ERROR_CODES } from '../../../src/errors.ts'
import { errorBody, HTTP_STATUS, toAppError } from '../../../src/http/errors.ts'

/** README's error table: code → HTTP status. */
function readmeErrorTable(): Map<string, number> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const rows = [...readme.matchAll(/^\| `([A-Za-z]+)` \| (\d{3}) \|/gm)]
  return new Map(rows.map((row) => [row[1]!, Number(row[2])]))
}

const SRC = path.resolve(import.meta.dirname, '../../../src')
const MAPPING_FILES = new Set(['errors.ts', 'http/errors.ts'])

describe('the error mapping', () => {
  it('knows only codes the service raises', () => {
    const sources = (readdirSync(SRC, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts') && !MAPPING_FILES.has(file))
      .map((file) => readFileSync(path.join(SRC, file), 'utf8'))
      .join('\n')
    const unused = ERROR_CODES.filter((code) => !sources.includes(`'${code}'`))
    expect(unused).toEqual([])
  })

  it('documents every code in README with the status it answers', () => {
    const table = readmeErrorTable()
    expect([...table.keys()].sort()).toEqual([...ERROR_CODES].sort())
    for (const code of ERROR_CODES) expect(table.get(code), code).toBe(HTTP_STATUS[code])
  })

  it('builds {error, code, details} with details null when an error has none', () => {
    expect(errorBody(new AppError('JobNotFound', 'No job'))).toEqual({ error: 'No job', code: 'JobNotFound', details: null })
    expect(errorBody(new AppError('RateLimited', 'slow down', { details: { retry_after_seconds: 3 } }))).toEqual({
      error: 'slow down',
      code: 'RateLimited',
      details: { retry_after_seconds: 3 },
    })
  })

  it('turns an unknown failure into Internal, hiding its message unless errors are exposed', () => {
    const hidden = toAppError(new Error('secret table name'), false)
    expect(errorBody(hidden)).toEqual({ error: 'Internal Server Error', code: 'Internal', details: null })
    expect(toAppError(new Error('secret table name'), true).details).toEqual({ message: 'secret table name' })
  })

  it('maps an unreachable database to QueueUnavailable and a framework HTTPException by its status', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    expect(toAppError(refused, false).code).toBe('QueueUnavailable')
    expect(toAppError(new HTTPException(413, { message: 'too big' }), false).code).toBe('PayloadTooLarge')
    expect(toAppError(new HTTPException(418), false).code).toBe('Internal')
  })
})
