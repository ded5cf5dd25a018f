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

describe('architecture', () => {
  it('reads process.env only in src/config.ts', () => {
    const offenders = SRC.filter((file) => file !== 'src/config.ts' && /process\.env\b/.test(readFileSync(path.join(ROOT, file), 'utf8')))
    expect(offenders).toEqual([])
  })

  it("imports 'pg-boss' only in src/queue (and the test/bench harnesses)", () => {
    const offenders = SRC.filter((file) => !file.startsWith('src/queue/') && imports(file).includes('pg-boss'))
    expect(offenders).toEqual([])
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
