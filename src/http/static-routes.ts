import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Hono } from 'hono'

const PUBLIC_DIR = resolve(fileURLToPath(new URL('../../public/', import.meta.url)))

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
}

export const HTML_CSP =
  "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

/**
 * The wizard's static files from public/. Anything that is not a file there falls through to the
 * app's JSON 404, so /api/* misses keep their JSON shape.
 */
export function createStaticRoutes(publicDir: string = PUBLIC_DIR): Hono {
  const root = resolve(publicDir)
  const app = new Hono()
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next()
    const path = c.req.path
    if (path.startsWith('/api/')) return next()
    let relative: string
    try {
      relative = decodeURIComponent(path === '/' ? '/index.html' : path)
    } catch {
      return next()
    }
    // Dot-files and NUL bytes never map to something we serve.
    if (relative.includes('\0') || /(^|\/)\./.test(relative)) return next()
    const file = normalize(join(root, relative))
    if (!file.startsWith(root + sep)) return next()
    const type = CONTENT_TYPES[extname(file)]
    if (!type) return next()
    try {
      if (!(await stat(file)).isFile()) return next()
    } catch {
      return next()
    }
    const body = await readFile(file)
    c.header('Content-Type', type)
    c.header('X-Content-Type-Options', 'nosniff')
    // The wizard has no build step and no fingerprinted names: let browsers revalidate every time.
    c.header('Cache-Control', 'no-cache')
    if (type.startsWith('text/html')) {
      c.header('Content-Security-Policy', HTML_CSP)
      c.header('Referrer-Policy', 'no-referrer')
    }
    if (c.req.method === 'HEAD') return c.body(null, 200)
    return c.body(new Uint8Array(body), 200)
  })
  return app
}
