// `npm run demo`: the service on saved listing pages, for a machine that cannot reach the listing sites.
// A local server plays cian, avito and domclick with the pages in test/fixtures/pages; FETCH_REWRITE
// routes the sites' origins to it, exactly as a caching mirror would be configured in production.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

const PAGES = path.resolve(import.meta.dirname, '../test/fixtures/pages')
const LISTINGS: { url: string; file: string; what: string }[] = [
  { url: 'https://spb.cian.ru/sale/flat/315831388/', file: 'cian-offer-315831388.html', what: 'cian, sale, Saint Petersburg' },
  { url: 'https://tyumen.cian.ru/rent/flat/331090051/', file: 'cian-offer-331090051.html', what: 'cian, rent, Tyumen' },
  { url: 'https://www.avito.ru/tyumen/kvartiry/1-k._kvartira_50_m_516_et._7626114474', file: 'avito-item-7626114474.html', what: 'avito, rent, Tyumen' },
  { url: 'https://tyumen.domclick.ru/card/rent__flat__2078584220', file: 'domclick-card-2078584220.html', what: 'domclick, rent, Tyumen' },
]
/** Every cian search answers with the one saved search page (Moscow rentals). */
const SEARCH_PAGE = 'cian-serp-rent-moscow-2023.html'

const byPath = new Map(LISTINGS.map((listing) => [new URL(listing.url).pathname, listing.file]))
const site = createServer((request, response) => {
  const pathname = new URL(request.url ?? '/', 'http://mirror').pathname
  const file = pathname === '/cat.php' ? SEARCH_PAGE : byPath.get(pathname)
  if (!file) return void response.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>Not saved</h1>')
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(readFileSync(path.join(PAGES, file)))
})
await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
const mirror = `http://127.0.0.1:${(site.address() as AddressInfo).port}`
const origins = [...new Set([...LISTINGS.map((listing) => new URL(listing.url).origin), 'https://www.cian.ru', 'https://spb.cian.ru', 'https://tyumen.cian.ru'])]

console.log(`demo: saved listing pages served at ${mirror}; paste one of these into the wizard:`)
for (const listing of LISTINGS) console.log(`  ${listing.url}   (${listing.what})`)
const service = spawn(process.execPath, ['--max-semi-space-size=4', '--import', path.resolve(import.meta.dirname, '../src/typescript-cache.js'), path.resolve(import.meta.dirname, '../src/server.ts')], {
  stdio: 'inherit',
  env: { ...process.env, FETCH_REWRITE: origins.map((origin) => `${origin}=${mirror}`).join(','), FETCH_RETRIES: '0' },
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => service.kill(signal))
service.on('exit', (code) => {
  site.close()
  process.exit(code ?? 1)
})
