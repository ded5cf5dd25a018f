// The npm scripts' own command lines (package.json), so that tests and the bench start processes as users do.
import { readFileSync } from 'node:fs'
import path from 'node:path'

const SCRIPTS: Record<string, string> = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')).scripts

/** `npm run <name>` as package.json writes it (`node …`). */
export function npmScript(name: string): string {
  const script = SCRIPTS[name]
  if (!script?.startsWith('node ')) throw new Error(`package.json has no "${name}" script that runs node`)
  return script
}

/** What `npm run <name>` passes to node: its flags, the entry and the entry's arguments (run from the checkout's root). */
export function npmScriptArgs(name: string): string[] {
  return npmScript(name).split(' ').slice(1)
}

/** The V8 flags of `npm run <name>`: its node arguments before the first `--import`. */
export function nodeFlagsOf(name: string): string[] {
  const args = npmScriptArgs(name)
  return args.slice(0, args.indexOf('--import'))
}
