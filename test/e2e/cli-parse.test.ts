import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PropertySchema } from '../../src/tasks/parse/property.ts'
import { startFixtureServer } from '../helpers/fixture-server.ts'

const run = promisify(execFile)
let site: Awaited<ReturnType<typeof startFixtureServer>>

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout } = await run(process.execPath, ['src/cli.ts', ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout }
  } catch (e) {
    const error = e as { code: number; stdout: string; stderr: string }
    return { code: error.code, stdout: error.stdout + error.stderr }
  }
}

beforeAll(async () => {
  site = await startFixtureServer({ '/sale/flat/315831388/': 'cian-offer-315831388.html' })
})
afterAll(() => site.close())

describe('cli parse-html and parse-url', () => {
  it('prints the normalized property of a saved page', async () => {
    const { code, stdout } = await cli(['parse-html', 'test/fixtures/pages/cian-offer-315831388.html', '--url', 'https://spb.cian.ru/sale/flat/315831388/'])
    expect(code).toBe(0)
    const property = PropertySchema.parse(JSON.parse(stdout))
    expect(property).toMatchObject({ offer_id: '315831388', price: 78000000, rooms: 3 })
  })

  it('prints the blocked verdict of a captcha page and exits 1', async () => {
    const { code, stdout } = await cli(['parse-html', 'test/fixtures/pages/cian-captcha-2024.html', '--url', 'https://www.cian.ru/'])
    expect(code).toBe(1)
    expect(JSON.parse(stdout)).toMatchObject({ blocked: true, site: 'cian' })
  })

  it('without --url leaves url null on a page that names no address of its own, and never invents one', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'housler-cli-'))
    const file = join(folder, 'saved.html')
    writeFileSync(file, '<html><head><title>Квартира</title></head><body><h1>2-комн. квартира, 54 м²</h1><table><tr><th>Цена</th><td>9 500 000 ₽</td></tr></table></body></html>')
    const { code, stdout } = await cli(['parse-html', file]).finally(() => rmSync(folder, { recursive: true, force: true }))
    expect(code).toBe(0)
    const printed = JSON.parse(stdout)
    expect(printed).toMatchObject({ page_kind: 'offer', url: null, price: 9_500_000, rooms: 2 })
    expect(stdout).not.toContain('example.invalid')
  })

  it('without --url reads a saved cian page by the address it names (og:url) with the cian parser', async () => {
    const { code, stdout } = await cli(['parse-html', 'test/fixtures/pages/cian-offer-315831388.html'])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ page_kind: 'offer', source: 'cian', url: 'https://spb.cian.ru/sale/flat/315831388/', offer_id: '315831388', price: 78000000 })
  })

  it('says page_kind "serp" for a search-results page and lists its cards', async () => {
    const { code, stdout } = await cli(['parse-html', 'test/fixtures/pages/cian-serp-rent-moscow-2023.html', '--url', 'https://www.cian.ru/cat.php?deal_type=rent&offer_type=flat&region=1'])
    expect(code).toBe(0)
    const printed = JSON.parse(stdout)
    expect(printed.page_kind).toBe('serp')
    expect(printed.cards).toHaveLength(28)
    expect(printed.cards[0]).toMatchObject({ offer_id: '289228753', price: 80000, rooms: 2, total_area: 43 })
    expect(printed.rooms).toBeUndefined()
  })

  it('fetches and parses a listing without the queue, through FETCH_REWRITE', async () => {
    const { code, stdout } = await cli(['parse-url', 'https://spb.cian.ru/sale/flat/315831388/'], { FETCH_REWRITE: `https://spb.cian.ru=${site.origin}` })
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ offer_id: '315831388', total_area: 126.4 })
    expect(site.requests).toContain('/sale/flat/315831388/')
  })

  it('refuses a private address', async () => {
    const { code, stdout } = await cli(['parse-url', 'http://127.0.0.1/sale/flat/1/'])
    expect(code).toBe(1)
    expect(stdout).toMatch(/not accepted/)
  })
})
