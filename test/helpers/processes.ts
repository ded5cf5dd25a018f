import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

// Below Linux's ephemeral range (32768–60999): a port handed to a child process to bind later must not
// be taken meanwhile by one of the run's many outgoing connections, which draw from that range.
const PORT_RANGE = { from: 20_000, to: 32_000 }

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A loopback port free right now, for a server that a test or its child process binds next. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from))
    if (await canBind(port)) return port
  }
}

/** The one wait of the tests: polls `probe` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
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

const OUTPUT_LINES = 2000

/** Every process spawned in this test file and not yet gone: the leak check fails a file that leaves one. */
const live = new Set<TestProcess>()
export const liveProcesses = (): readonly TestProcess[] => [...live]

export type SpawnOptions = {
  args?: string[]
  /** Node flags before the entry (e.g. the npm scripts' --max-semi-space-size). */
  execArgv?: string[]
  cwd?: string
  /** Ready on the first IPC message (the test entries), once the output satisfies a test, or at once. */
  readyWhen?: 'message' | 'spawned' | ((output: string) => boolean)
  /** Replace this process's environment instead of extending it (e.g. to prove a default). */
  isolatedEnv?: boolean
  timeoutMs?: number
}

/**
 * Forks a TypeScript entry (test/helpers/test-worker.ts, test-api.ts, worker/main.ts, src/server.ts)
 * with `env` over this process's environment and resolves once it is ready. Its output is kept
 * (bounded) rather than printed: fault tests make processes log many expected errors.
 */
export function spawnTestProcess(entry: string, env: Record<string, string>, options: SpawnOptions = {}): Promise<TestProcess> {
  const { readyWhen = 'message', timeoutMs = 30_000 } = options
  const child = fork(entry, options.args ?? [], {
    cwd: options.cwd,
    execArgv: options.execArgv ?? [],
    env: options.isolatedEnv ? { PATH: process.env.PATH, ...env } : { ...process.env, ...env },
    execPath: process.execPath,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const lines: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const proc: TestProcess = { child, pid: child.pid!, ready: undefined, exited, output: () => lines.join('\n') }
  live.add(proc)
  void exited.then(() => live.delete(proc))
  return new Promise((resolve, reject) => {
    let isReady = false
    const done = (ready: unknown) => {
      if (isReady) return
      isReady = true
      clearTimeout(timer)
      proc.ready = ready
      resolve(proc)
    }
    const keep = (chunk: Buffer) => {
      const added = chunk.toString().split('\n').filter(Boolean)
      lines.push(...added)
      if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES)
      if (!isReady && typeof readyWhen === 'function' && readyWhen(lines.join('\n'))) done(undefined)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${entry} did not start in ${timeoutMs} ms:\n${lines.join('\n')}`))
    }, timeoutMs)
    if (readyWhen === 'message') child.once('message', done)
    if (readyWhen === 'spawned') child.once('spawn', () => done(undefined))
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${entry} exited with ${code} before it was ready:\n${lines.join('\n')}`))
    })
  })
}

/** SIGKILLs every given process still running and waits until each is gone. */
export async function killAll(processes: Iterable<TestProcess> = live): Promise<void> {
  const waits: Promise<unknown>[] = []
  for (const p of [...processes]) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      waits.push(p.exited)
    }
  }
  await Promise.all(waits)
}
