import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'

/** The command line of a running process, or undefined when there is none (or it is not ours to read). */
export function processCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || undefined
  } catch {
    try {
      process.kill(pid, 0)
      return '' // alive, but /proc is not readable here
    } catch {
      return undefined
    }
  }
}

/** A process that has exited but not been reaped: signal 0 still reaches it, though it runs nothing. */
export function isZombie(pid: number): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return line.slice(line.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

export function parentPid(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

export function describeProcess(pid: number): string {
  const command = processCommand(pid)
  return command ? `pid ${pid}: ${command.length > 80 ? `${command.slice(0, 77)}...` : command}` : `pid ${pid}`
}

/** The pid of the process listening on a TCP port, where /proc lets us see it (Linux; all of it as root). */
export function findListeningProcess(port: number): number | undefined {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10 || fields[3] !== '0A') continue // 0A: LISTEN
      if (Number.parseInt(fields[1].split(':')[1], 16) === port) inodes.add(fields[9])
    }
  }
  if (inodes.size === 0) return undefined
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return undefined
  }
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (match && inodes.has(match[1])) return Number(pid)
      } catch {
        // the descriptor closed while we looked
      }
    }
  }
  return undefined
}

/** Whether a loopback TCP port can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}
