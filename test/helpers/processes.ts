import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Polls `probe` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export type TestProcess = {
  child: ChildProcess
  pid: number
  /** The first IPC message (test-worker: 'ready'; test-api: { type: 'ready', port }). */
  ready: unknown
  /** Resolves with the exit code (null after a signal) once the process is gone. */
  exited: Promise<number | null>
  /** The last lines the process wrote to stdout/stderr, for diagnosing a failure. */
  output(): string
}

const OUTPUT_LINES = 200

/**
 * Forks a test process entry (test/helpers/test-worker.ts, test-api.ts) with `env` over this
 * process's environment and resolves once it sends its first IPC message. Its output is kept
 * (bounded) rather than printed: fault tests make processes log many expected errors.
 */
export function spawnTestProcess(entry: string, env: Record<string, string>, timeoutMs = 30_000): Promise<TestProcess> {
  const child = fork(entry, [], {
    env: { ...process.env, ...env },
    execPath: process.execPath,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean))
    if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${entry} did not start in ${timeoutMs} ms:\n${lines.join('\n')}`))
    }, timeoutMs)
    child.once('message', (ready) => {
      clearTimeout(timer)
      resolve({ child, pid: child.pid!, ready, exited, output: () => lines.join('\n') })
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${entry} exited with ${code} before it was ready:\n${lines.join('\n')}`))
    })
  })
}

/** SIGKILLs every process still running (afterAll). */
export async function killAll(processes: Iterable<TestProcess>): Promise<void> {
  const waits: Promise<unknown>[] = []
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      waits.push(p.exited)
    }
  }
  await Promise.all(waits)
}
