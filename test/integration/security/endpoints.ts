import type { Hono } from 'hono'

export type Endpoint = { method: string; pattern: string; params: string[] }

// A param's regex may itself hold braces: `:job_id{[0-9a-fA-F-]{36}}`.
const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)(\{(?:[^{}]|\{[^{}]*\})*\})?/g

/** Every route the app answers (method + pattern), read from hono's route table: new routes are covered without editing the tests. */
export function endpointsOf(app: Hono): Endpoint[] {
  const seen = new Map<string, Endpoint>()
  for (const route of app.routes) {
    if (route.method === 'ALL') continue
    const key = `${route.method} ${route.path}`
    if (!seen.has(key)) {
      seen.set(key, { method: route.method, pattern: route.path, params: [...route.path.matchAll(PARAM)].map((m) => m[1]) })
    }
  }
  return [...seen.values()]
}

/** The pattern with each `:param` (and its `{regex}`) replaced by the URL-encoded value given for it. */
export function fillPath(pattern: string, values: Readonly<Record<string, string>>): string {
  return pattern.replace(PARAM, (_match, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`no value for :${name} in ${pattern}`)
    return encodeURIComponent(value)
  })
}
