import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parsePage } from '../src/tasks/parse/parse-page.ts'

export type ParserBenchRow = {
  page: string
  kb: number
  runs: number
  ms_per_page: number
  pages_per_s: number
}

const PAGES_DIR = join(import.meta.dirname, '../test/fixtures/pages')

/** The largest saved offer pages, with the URL each was fetched from. */
const PAGES = [
  { file: 'cian-offer-315831388.html', url: 'https://spb.cian.ru/sale/flat/315831388/' },
  { file: 'avito-item-7626114474.html', url: 'https://www.avito.ru/tyumen/kvartiry/x_7626114474' },
  { file: 'cian-offer-331090051.html', url: 'https://tyumen.cian.ru/rent/flat/331090051/' },
  { file: 'domclick-card-2078584220.html', url: 'https://tyumen.domclick.ru/card/rent__flat__2078584220' },
  { file: 'cian-captcha-2024.html', url: 'https://www.cian.ru/cat.php' },
]

const WARMUP_RUNS = 3

/** Parses each large fixture repeatedly for about `budgetMs` and reports throughput per page. */
export function runParserBench(budgetMs = 1_500): ParserBenchRow[] {
  return PAGES.map(({ file, url }) => {
    const html = readFileSync(join(PAGES_DIR, file), 'utf8')
    for (let i = 0; i < WARMUP_RUNS; i++) parsePage(html, url)
    let runs = 0
    const started = performance.now()
    while (performance.now() - started < budgetMs || runs < 5) {
      parsePage(html, url)
      runs++
    }
    const msPerPage = (performance.now() - started) / runs
    return {
      page: file.replace('.html', ''),
      kb: Math.round(Buffer.byteLength(html) / 1024),
      runs,
      ms_per_page: Number(msPerPage.toFixed(2)),
      pages_per_s: Number((1000 / msPerPage).toFixed(1)),
    }
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.table(runParserBench())
}
