import type { IncomingMessage } from 'node:http'
import { readFixture } from './fixture-server.ts'
import { startServer, type TestServer } from '../integration/fetch/test-servers.ts'

export const CHALLENGE_COOKIE = 'hz_check=passed'

/** What a JavaScript cookie challenge serves: a line of text and a script that sets the cookie and reloads. */
export const CHALLENGE_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Один момент…</title></head>
<body><p>Проверяем, что вы не робот. Страница обновится сама.</p>
<script>document.cookie = "${CHALLENGE_COOKIE}; path=/"; setTimeout(function () { location.reload() }, 50)</script>
</body></html>`

export type ChallengeSite = TestServer & {
  /** Paths answered with the challenge, and with the real page. */
  challenged: string[]
  passed: string[]
  /** Holds the next page served with the cookie until release() (to observe the job in between). */
  holdNextPass(): { release(): void; reached: Promise<void> }
}

function hasCookie(req: IncomingMessage): boolean {
  return (req.headers.cookie ?? '').split(/;\s*/).includes(CHALLENGE_COOKIE)
}

/**
 * A listing site behind a JS challenge: without the cookie every page is the challenge (200, as such
 * interstitials usually answer); with it, `pages[path]` (a saved fixture) is served. Anything else is a 404.
 */
export async function startChallengeSite(pages: Record<string, string>): Promise<ChallengeSite> {
  const challenged: string[] = []
  const passed: string[] = []
  let hold: { release(): void; reached: () => void; wait: Promise<void> } | undefined
  const server = await startServer((req, res, seen) => {
    const path = new URL(seen.path, 'http://site').pathname
    const fixture = pages[path]
    if (!fixture) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1>')
    if (!hasCookie(req)) {
      challenged.push(path)
      return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(CHALLENGE_PAGE)
    }
    passed.push(path)
    const send = () => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(readFixture(fixture))
    const current = hold
    if (!current) return void send()
    hold = undefined
    current.reached()
    void current.wait.then(send)
  })
  return Object.assign(server, {
    challenged,
    passed,
    holdNextPass() {
      let release!: () => void
      let reached!: () => void
      const wait = new Promise<void>((resolve) => (release = resolve))
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve))
      hold = { release, reached, wait }
      return { release, reached: reachedPromise }
    },
  })
}
