import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const relative = path.join(dir, name)
    return statSync(path.join(ROOT, relative)).isDirectory() ? files(relative) : relative.endsWith('.ts') ? [relative] : []
  })
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (match) => match[1],
  )
}

const SRC = files('src')

/** The file's code without its comments: a comment may name pgboss.job, code may not. */
function code(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

const PG_BOSS_SEAM = 'src/queue/pg-boss-internals.ts'

describe('architecture', () => {
  it('reads process.env only in src/config.ts', () => {
    const offenders = SRC.filter((file) => file !== 'src/config.ts' && /process\.env\b/.test(readFileSync(path.join(ROOT, file), 'utf8')))
    expect(offenders).toEqual([])
  })

  it("imports 'pg-boss' only in src/queue (and the test/bench harnesses)", () => {
    const offenders = SRC.filter((file) => !file.startsWith('src/queue/') && imports(file).includes('pg-boss'))
    expect(offenders).toEqual([])
  })

  it('touches pg-boss internals (its dist/ modules, the pgboss.* tables) only in the seam file', () => {
    const offenders = SRC.filter(
      (file) => file !== PG_BOSS_SEAM && (imports(file).some((name) => name.startsWith('pg-boss/')) || /\bpgboss\.\w/.test(code(file))),
    )
    expect(offenders).toEqual([])
  })

  it('gives http, the CLI and the RESP adapter the written Queue interface, never the queue\'s modules', () => {
    const offenders = SRC.filter((file) => file.startsWith('src/http/') || file.startsWith('src/rq-compat/') || file === 'src/cli.ts').flatMap((file) =>
      imports(file)
        .filter((name) => /\/queue\/(?!index\.ts$)/.test(name))
        .map((name) => `${file} → ${name}`),
    )
    expect(offenders).toEqual([])
    expect(readFileSync(path.join(ROOT, 'src/queue/index.ts'), 'utf8')).toMatch(/^export interface Queue \{/m)
  })

  it("imports 'hono' only in src/http and the composition roots", () => {
    const allowed = (file: string) => file.startsWith('src/http/') || ['src/server.ts'].includes(file)
    const offenders = SRC.filter((file) => !allowed(file) && imports(file).some((name) => name === 'hono' || name.startsWith('hono/') || name.startsWith('@hono/')))
    expect(offenders).toEqual([])
  })

  it('keeps task logic free of the database, the queue and HTTP', () => {
    const forbidden = ['pg', 'pg-boss', 'kysely', 'hono']
    const offenders = SRC.filter((file) => file.startsWith('src/tasks/')).flatMap((file) =>
      imports(file)
        .filter((name) => forbidden.includes(name) || /\/(db|queue|http|store)\//.test(name) || /^\.\.\/\.\.\/(db|queue|http|store)/.test(name))
        .map((name) => `${file} → ${name}`),
    )
    expect(offenders).toEqual([])
  })

  it('never lets migrations import application code (they are frozen in time)', () => {
    const offenders = files('migrations').flatMap((file) => imports(file).filter((name) => name.includes('src/')).map((name) => `${file} → ${name}`))
    expect(offenders).toEqual([])
  })
})
