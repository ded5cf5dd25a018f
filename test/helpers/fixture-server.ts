import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

const PAGES_DIR = path.resolve(import.meta.dirname, '../fixtures/pages')

export function readFixture(name: string): string {
  return readFileSync(path.join(PAGES_DIR, name), 'utf8')
}

/**
 * A local stand-in for listing sites: serves saved pages by path (routes: path → fixture file or
 * HTML string), counts requests; reached through FETCH_REWRITE exactly as a mirror would be.
 */
export async function startFixtureServer(routes: Record<string, string>): Promise<{
  origin: string
  requests: string[]
  setRoute(pathname: string, fixtureOrHtml: string): void
  close(): Promise<void>
}> {
  const table = new Map(Object.entries(routes))
  const requests: string[] = []
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fixture')
    requests.push(url.pathname + url.search)
    const entry = table.get(url.pathname) ?? table.get(url.pathname + url.search)
    if (!entry) {
      response.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>Not found</h1>')
      return
    }
    const body = entry.endsWith('.html') && !entry.includes('<') ? readFixture(entry) : entry
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    setRoute: (pathname, value) => void table.set(pathname, value),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
