// node bench/fetch-ladder.ts [--pages N] [--concurrency C]: pages/s and RSS of the fetch ladder's rungs, plain vs
// browser (pool warm), on the saved 700 KB cian listing served from loopback through FETCH_REWRITE, each page judged
// by the parse task's parser exactly as a job does.
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.ts'
import { createBrowserPool, createFetcher, type BrowserPool } from '../src/fetch/index.ts'
import { pageJudge } from '../src/tasks/page-judge.ts'
import { parsePage } from '../src/tasks/parse/parse-page.ts'
import type { ParseOutcome } from '../src/tasks/parse/property.ts'

const { values } = parseArgs({ options: { pages: { type: 'string', default: '60' }, concurrency: { type: 'string', default: '2' } } })
const PAGES = Number(values.pages)
const CONCURRENCY = Number(values.concurrency)
const HTML = readFileSync(new URL('../test/fixtures/pages/cian-offer-315831388.html', import.meta.url))

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

/** RSS of a process and all its descendants (Chromium's renderers and helpers), in MB; shared pages counted per process. */
function treeRssMb(root: number): number {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {
      // The process ended while we looked.
    }
  }
  let kb = 0
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    kb += rssKb(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return kb / 1024
}

async function run(strategy: 'plain' | 'browser', origin: string, pool: BrowserPool | undefined) {
  const config = loadConfig({ FETCH_REWRITE: `https://spb.cian.ru=${origin}`, FETCH_STRATEGIES: strategy, FETCH_RETRIES: '0' })
  const fetcher = createFetcher(config, { browserPool: pool })
  const fetchOne = async (n: number) => {
    const judged = pageJudge<ParseOutcome>((page) => parsePage(page.body, page.url))
    const page = await fetcher.fetchPage(`https://spb.cian.ru/sale/flat/${n}/`, judged.options)
    const outcome = judged.outcomeOf(page)
    if (outcome.blocked || outcome.property.price === null) throw new Error(`page ${n} did not parse`)
  }
  // Warm: the pool's contexts exist and Chromium runs; V8 has compiled the parser.
  for (let i = 0; i < CONCURRENCY * 2; i++) await fetchOne(i)
  let peakNodeMb = 0
  let peakBrowserMb = 0
  const sample = () => {
    const nodeMb = process.memoryUsage().rss / 1024 / 1024
    peakNodeMb = Math.max(peakNodeMb, nodeMb)
    // Chromium runs as this process's children: the tree minus Node itself.
    if (pool) peakBrowserMb = Math.max(peakBrowserMb, treeRssMb(process.pid) - nodeMb)
  }
  const sampler = setInterval(sample, 200)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < PAGES) await fetchOne(1000 + next++)
    }),
  )
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  sample()
  return { strategy, pages: PAGES, pagesPerSecond: PAGES / seconds, peakNodeMb, peakBrowserMb, launches: pool?.stats().launches ?? 0 }
}

// The listing pages only: the page's own scripts and XHR on the site get a 404, as from a mirror without them.
const server = http.createServer((req, res) => {
  if (!/^\/sale\/flat\/\d+\/$/.test(req.url ?? '')) return void res.writeHead(404).end()
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const plain = await run('plain', origin, undefined)
const pool = createBrowserPool({
  executablePath: '/usr/bin/chromium',
  poolSize: CONCURRENCY,
  contextMaxPages: 20,
  contextMaxAgeMs: 300_000,
  restartAfterPages: 200,
})
const browser = await run('browser', origin, pool)
await pool.close()
server.close()

console.log(`| strategy | pages | concurrency | pages/s | peak RSS Node (MB) | peak RSS Chromium tree (MB) | Chromium launches |`)
console.log(`|---|---:|---:|---:|---:|---:|---:|`)
for (const row of [plain, browser]) {
  console.log(
    `| ${row.strategy} | ${row.pages} | ${CONCURRENCY} | ${row.pagesPerSecond.toFixed(1)} | ${row.peakNodeMb.toFixed(0)} | ${row.strategy === 'browser' ? row.peakBrowserMb.toFixed(0) : '—'} | ${row.launches} |`,
  )
}
