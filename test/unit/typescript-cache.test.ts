import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
// @ts-expect-error plain JavaScript without declarations (it runs before any TypeScript is loaded)
import { cacheFileOf } from '../../src/typescript-cache.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const HOOK = path.join(ROOT, 'src/typescript-cache.js')
const DIR = path.join(ROOT, 'test-artifacts', `typescript-cache-${process.pid}`)
const MODULE = path.join(DIR, 'module.ts')
// Sources unique to this run: an entry cached by an earlier run must not answer for them.
const RUN = `${process.pid}-${Date.now()}`

/** Runs MODULE as the npm scripts run an entry; it prints its value and whether Node's TypeScript compiler was loaded. */
function run(): { value: number; compilerLoaded: boolean } {
  const out = execFileSync(process.execPath, ['--import', HOOK, MODULE], { encoding: 'utf8' })
  return JSON.parse(out)
}

function writeModule(value: number) {
  const source = `// ${RUN}
const value: number = ${value}
const compilerLoaded: boolean = process.moduleLoadList.some((name) => name.includes('amaro'))
console.log(JSON.stringify({ value, compilerLoaded }))
`
  writeFileSync(MODULE, source)
  return source
}

afterAll(() => rmSync(DIR, { recursive: true, force: true }))

describe('typescript cache (--import ./src/typescript-cache.js)', () => {
  mkdirSync(DIR, { recursive: true })

  it('runs a cached module without loading Node\'s TypeScript compiler', () => {
    const source = writeModule(1)
    expect(run()).toEqual({ value: 1, compilerLoaded: true })
    expect(existsSync(cacheFileOf(source))).toBe(true)
    expect(run()).toEqual({ value: 1, compilerLoaded: false })
  })

  it('runs an edited module\'s new code, never the cached copy of the old one', () => {
    writeModule(2)
    expect(run().value).toBe(2)
    writeModule(3)
    expect(run().value).toBe(3)
    expect(run()).toEqual({ value: 3, compilerLoaded: false })
  })
})
