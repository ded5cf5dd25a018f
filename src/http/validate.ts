import type { Context, MiddlewareHandler } from 'hono'
import type { z } from 'zod'
import { AppError } from '../errors.ts'

const unstorable = (text: string) => text.includes('\u0000') || !text.isWellFormed()

/**
 * Where the first string (key or value) that Postgres cannot store sits, as a dotted path, else undefined:
 * text and jsonb refuse U+0000, and jsonb refuses an unpaired UTF-16 surrogate (JSON allows both as escapes).
 * Iterative, because a 64 KB body can nest tens of thousands of levels deep.
 */
export function findUnstorableText(value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, '']]
  while (stack.length > 0) {
    const [item, path] = stack.pop()!
    if (typeof item === 'string') {
      if (unstorable(item)) return path
    } else if (Array.isArray(item)) {
      item.forEach((child, i) => stack.push([child, path ? `${path}.${i}` : String(i)]))
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        const childPath = path ? `${path}.${key}` : key
        if (unstorable(key)) return childPath
        stack.push([child, childPath])
      }
    }
  }
  return undefined
}

/** A NUL (%00) in the path or the query would reach SQL as a parameter and fail there: a 400 here instead. */
export const rejectUnstorableUrl: MiddlewareHandler = async function rejectUnstorableUrl(c, next) {
  const where = unstorable(c.req.path)
    ? 'path'
    : Object.entries(c.req.queries()).find(([key, values]) => unstorable(key) || values.some(unstorable))?.[0]
  if (where !== undefined) {
    throw new AppError('ValidationFailed', 'The URL contains a NUL character', { details: { where: where === 'path' ? 'path' : `query.${where}` } })
  }
  await next()
}

/** Reads a JSON object body; malformed JSON or a non-object is a 400, never a 500. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError('ValidationFailed', 'Content-Type must be application/json', { details: { content_type: type || null } })
  }
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw new AppError('ValidationFailed', 'Body is not valid JSON', { details: null })
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('ValidationFailed', 'Body must be a JSON object', { details: { received: body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body } })
  }
  const unstorablePath = findUnstorableText(body)
  if (unstorablePath !== undefined) {
    throw new AppError('ValidationFailed', 'Body contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored', {
      details: { path: unstorablePath },
    })
  }
  return body as Record<string, unknown>
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    throw new AppError('ValidationFailed', `Invalid ${what}`, {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    })
  }
  return parsed.data
}
