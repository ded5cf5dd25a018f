import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, ENV_NAMES, loadConfig } from '../../src/config.ts'

/** The variables README's configuration table documents (rows like `| `A` / `B` | default | meaning |`). */
function readmeVariables(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1))
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!))
}

describe('loadConfig', () => {
  it('keeps the guide defaults: 300 s timeout, 3600 s result TTL, a day for failures, port 3000', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ jobTimeoutSeconds: 300, resultTtlSeconds: 3600, failureTtlSeconds: 86400, port: 3000 })
    expect(config.databaseUrl).toBeUndefined()
    expect(config.syncFallback).toBe(true)
  })

  it('reads the guide names RQ_JOB_TIMEOUT and RQ_RESULT_TTL', () => {
    expect(loadConfig({ RQ_JOB_TIMEOUT: '60', RQ_RESULT_TTL: '10' })).toMatchObject({ jobTimeoutSeconds: 60, resultTtlSeconds: 10 })
  })

  it('binds to loopback unless API keys are set', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1')
    expect(loadConfig({ API_KEYS: 'k1' }).host).toBe('0.0.0.0')
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
  })

  it('parses FETCH_REWRITE into origin pairs', () => {
    const config = loadConfig({ FETCH_REWRITE: 'https://spb.cian.ru=http://127.0.0.1:9000, https://www.cian.ru/x=http://m:1/' })
    expect([...config.fetchRewrite]).toEqual([
      ['https://spb.cian.ru', 'http://127.0.0.1:9000'],
      ['https://www.cian.ru', 'http://m:1'],
    ])
  })

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' })).toMatchObject({ databaseUrl: undefined, port: 3000 })
  })

  it.each([
    [{ RQ_JOB_TIMEOUT: '-1' }, 'RQ_JOB_TIMEOUT'],
    [{ PORT: 'http' }, 'PORT'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ SYNC_FALLBACK: 'maybe' }, 'SYNC_FALLBACK'],
    [{ HEARTBEAT_SECONDS: '5' }, 'HEARTBEAT_SECONDS'],
    [{ FETCH_REWRITE: 'nonsense' }, 'FETCH_REWRITE'],
  ])('refuses %o naming the variable', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(name)
  })

  it('serves the Redis-protocol adapter on 6380 by default, 0 turning it off, with function aliases', () => {
    expect(loadConfig({}).rqCompatPort).toBe(6380)
    expect(loadConfig({ RQ_COMPAT_PORT: '0' }).rqCompatPort).toBe(0)
    const aliases = loadConfig({ RQ_COMPAT_FUNCTION_ALIASES: 'app.tasks.parse_property=parse, app.tasks.report=report' }).rqCompatFunctionAliases
    expect([...aliases]).toEqual([['app.tasks.parse_property', 'parse'], ['app.tasks.report', 'report']])
    expect(() => loadConfig({ RQ_COMPAT_FUNCTION_ALIASES: 'no-equals-sign' })).toThrow(/RQ_COMPAT_FUNCTION_ALIASES/)
  })

  it('returns a frozen object, its lists frozen too', () => {
    const config = loadConfig({ API_KEYS: 'a,b' })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.apiKeys)).toBe(true)
    expect(config.apiKeys).toEqual(['a', 'b'])
  })

  it('lowercases LISTING_HOSTS', () => {
    expect(loadConfig({ LISTING_HOSTS: 'Example.RU, n1.ru' }).listingHosts).toEqual(['example.ru', 'n1.ru'])
  })

  it('documents in README exactly the variables it reads', () => {
    expect(readmeVariables().sort()).toEqual([...ENV_NAMES].sort())
  })
})
