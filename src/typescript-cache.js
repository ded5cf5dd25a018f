// Plain JavaScript on purpose: it must run before any TypeScript is loaded.
//
// `node --import ./src/typescript-cache.js <entry>.ts` serves this checkout's TypeScript modules from a cache of
// their type-stripped JavaScript, keyed by a hash of the source. Node's own type stripping instantiates a
// WebAssembly compiler in every process (≈ 17 MB RSS, bench/RESULTS.md "idle worker"); a process whose
// modules are all cached never does. The key is the source itself, so an edited file can never be served
// stale: it misses, is stripped once (the same transform Node applies) and cached. `node src/typescript-cache.js`
// fills the cache for src, worker, migrations, demo and bench and drops entries no file has any more (npm's prepare).
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import module from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = path.resolve(import.meta.dirname, '..')
const ROOT_URL = pathToFileURL(ROOT + path.sep).href
export const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'housler-typescript')
const WARM_DIRS = ['src', 'worker', 'migrations', 'demo', 'bench']

/** The cache file of a TypeScript source: its hash names it. */
export function cacheFileOf(source) {
  return path.join(CACHE_DIR, `${createHash('sha256').update(source).digest('hex').slice(0, 40)}.js`)
}

/** The source with its types replaced by blanks (line and column of every token kept, so stack traces stay right). */
export function strippedSource(source) {
  const file = cacheFileOf(source)
  try {
    return readFileSync(file, 'utf8')
  } catch {
    // A miss: strip as Node would. Its one-time ExperimentalWarning names an API, not anything the user runs.
    const { emitWarning } = process
    process.emitWarning = () => {}
    let stripped
    try {
      stripped = module.stripTypeScriptTypes(source)
    } finally {
      process.emitWarning = emitWarning
    }
    try {
      mkdirSync(CACHE_DIR, { recursive: true })
      const partial = `${file}.${process.pid}`
      writeFileSync(partial, stripped)
      renameSync(partial, file)
    } catch {
      // A read-only checkout still runs; it strips at every start.
    }
    return stripped
  }
}

function tsFiles(dir) {
  let names
  try {
    names = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return names.flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return tsFiles(full)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : []
  })
}

/** Caches every module of the service's entry points and removes entries of sources that no longer exist. */
export function warmCache() {
  const sources = WARM_DIRS.flatMap((dir) => tsFiles(path.join(ROOT, dir))).map((file) => readFileSync(file, 'utf8'))
  for (const source of sources) strippedSource(source)
  const kept = new Set(sources.map((source) => path.basename(cacheFileOf(source))))
  let names = []
  try {
    names = readdirSync(CACHE_DIR)
  } catch {
    return { cached: kept.size, removed: 0 }
  }
  const stale = names.filter((name) => !kept.has(name))
  for (const name of stale) rmSync(path.join(CACHE_DIR, name), { force: true })
  return { cached: kept.size, removed: stale.length }
}

if (!module.registerHooks || !module.stripTypeScriptTypes) {
  // An older Node (before 22.15): its own type stripping runs, as without this file.
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { cached, removed } = warmCache()
  console.log(`typescript cache: ${cached} modules in ${path.relative(ROOT, CACHE_DIR)} (${removed} stale entries removed)`)
} else {
  module.registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(ROOT_URL) || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context)
      return { format: 'module', source: strippedSource(readFileSync(fileURLToPath(url), 'utf8')), shortCircuit: true }
    },
  })
}
