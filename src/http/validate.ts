import type { Context } from 'hono'
import type { z } from 'zod'
import { AppError } from '../errors.ts'

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
    throw new AppError('ValidationFailed', 'Body must be a JSON object', { details: { received: Array.isArray(body) ? 'array' : typeof body } })
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
