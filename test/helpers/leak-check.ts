// Runs around every test file (vitest setupFiles): marks a failed test's database to be kept, and
// fails the file if it leaves a child process, a socket or a server behind.
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { markTestFailed } from './postgres.ts'
import { killAll, liveProcesses, until } from './processes.ts'

// Handles a test can open and must close: connections (pg, HTTP), listening servers, child processes and their pipes.
const TRACKED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap'])

function openHandles(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) if (TRACKED.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1)
  return counts
}

function excess(baseline: Map<string, number>): string[] {
  return [...openHandles()].filter(([type, n]) => n > (baseline.get(type) ?? 0)).map(([type, n]) => `${type} ×${n - (baseline.get(type) ?? 0)}`)
}

let baseline = new Map<string, number>()
beforeAll(() => {
  baseline = openHandles()
})

beforeEach(({ onTestFailed }) => onTestFailed(markTestFailed))

afterAll(async () => {
  const processes = liveProcesses().map((p) => p.pid)
  await killAll()
  if (processes.length > 0) throw new Error(`leak check: child processes still running after the file: ${processes.join(', ')}`)
  // Closed sockets leave the handle list a moment later: wait for that, not for a fixed time.
  const left = await until('open handles to close', async () => (excess(baseline).length === 0 ? [] : undefined), 5_000, 50).catch(() => excess(baseline))
  if (left.length > 0) throw new Error(`leak check: handles still open after the file: ${left.join(', ')}`)
})
