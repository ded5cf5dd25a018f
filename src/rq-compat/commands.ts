import { createHash } from 'node:crypto'
import { coerceError, AppError, isDatabaseUnreachable } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { RqBackend } from './backend.ts'
import { parseKey, type Names } from './keyspace.ts'
import { globToRegExp, OK, RespError, Status, type Reply } from './resp.ts'
import type { PendingRemovals, PendingSchedules, View, ZMember } from './view.ts'
import { planWrites, type Effect } from './writes.ts'

/** The version INFO reports: below 5, so RQ 1.13 keeps results and exc_info in the job hash (no streams). */
export const REPORTED_REDIS_VERSION = '4.0.14'

export type Role = 'admin' | 'client'

export type Session = {
  id: number
  name: string | null
  /** undefined until AUTH when keys are configured; 'admin' when auth is off (loopback only). */
  role: Role | undefined
  multi: Buffer[][] | null
  multiFailed: boolean
  quit: boolean
}

export type CommandContext = {
  backend: RqBackend
  names: Names
  view: View
  pending: PendingRemovals
  schedules: PendingSchedules
  log: Logger
  port: () => number
  connections: () => number
  startedAt: number
  authenticate(key: string): Role | undefined
  authEnabled: boolean
  scripts: Map<string, string>
}

type Kind = 'read' | 'write' | 'connection'
type Spec = { arity: number; kind: Kind }

// Arity as Redis counts it (the name included); negative: at least that many.
const COMMANDS: Record<string, Spec> = {
  PING: { arity: -1, kind: 'read' },
  ECHO: { arity: 2, kind: 'connection' },
  SELECT: { arity: 2, kind: 'connection' },
  QUIT: { arity: -1, kind: 'connection' },
  AUTH: { arity: -2, kind: 'connection' },
  HELLO: { arity: -1, kind: 'connection' },
  CLIENT: { arity: -2, kind: 'connection' },
  COMMAND: { arity: -1, kind: 'connection' },
  INFO: { arity: -1, kind: 'read' },
  DBSIZE: { arity: 1, kind: 'read' },
  MULTI: { arity: 1, kind: 'connection' },
  EXEC: { arity: 1, kind: 'connection' },
  DISCARD: { arity: 1, kind: 'connection' },
  WATCH: { arity: -2, kind: 'connection' },
  UNWATCH: { arity: 1, kind: 'connection' },
  KEYS: { arity: 2, kind: 'read' },
  SCAN: { arity: -2, kind: 'read' },
  EXISTS: { arity: -2, kind: 'read' },
  TYPE: { arity: 2, kind: 'read' },
  TTL: { arity: 2, kind: 'read' },
  PTTL: { arity: 2, kind: 'read' },
  HGETALL: { arity: 2, kind: 'read' },
  HGET: { arity: 3, kind: 'read' },
  HMGET: { arity: -3, kind: 'read' },
  HEXISTS: { arity: 3, kind: 'read' },
  HLEN: { arity: 2, kind: 'read' },
  HKEYS: { arity: 2, kind: 'read' },
  SMEMBERS: { arity: 2, kind: 'read' },
  SCARD: { arity: 2, kind: 'read' },
  SISMEMBER: { arity: 3, kind: 'read' },
  LLEN: { arity: 2, kind: 'read' },
  LRANGE: { arity: 4, kind: 'read' },
  LINDEX: { arity: 3, kind: 'read' },
  ZRANGE: { arity: -4, kind: 'read' },
  ZREVRANGE: { arity: -4, kind: 'read' },
  ZRANGEBYSCORE: { arity: -4, kind: 'read' },
  ZREVRANGEBYSCORE: { arity: -4, kind: 'read' },
  ZCARD: { arity: 2, kind: 'read' },
  ZCOUNT: { arity: 4, kind: 'read' },
  ZSCORE: { arity: 3, kind: 'read' },
  XRANGE: { arity: -4, kind: 'read' },
  XREVRANGE: { arity: -4, kind: 'read' },
  HSET: { arity: -4, kind: 'write' },
  HMSET: { arity: -4, kind: 'write' },
  SADD: { arity: -3, kind: 'write' },
  SREM: { arity: -3, kind: 'write' },
  RPUSH: { arity: -3, kind: 'write' },
  LPUSH: { arity: -3, kind: 'write' },
  LREM: { arity: 4, kind: 'write' },
  ZADD: { arity: -4, kind: 'write' },
  ZREM: { arity: -3, kind: 'write' },
  ZREMRANGEBYSCORE: { arity: 4, kind: 'write' },
  DEL: { arity: -2, kind: 'write' },
  EVAL: { arity: -3, kind: 'write' },
  EVALSHA: { arity: -3, kind: 'write' },
  SCRIPT: { arity: -2, kind: 'connection' },
}

const err = (message: string) => new RespError(message)
const str = (arg: Buffer) => arg.toString('utf8')

function checkArity(name: string, args: Buffer[]): RespError | undefined {
  const spec = COMMANDS[name]
  if (!spec) {
    const shown = args.slice(1, 4).map((a) => `'${str(a).slice(0, 40)}'`).join(' ')
    return err(`ERR unknown command '${name.slice(0, 40)}', with args beginning with: ${shown}`)
  }
  if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
    return err(`ERR wrong number of arguments for '${name.toLowerCase()}' command`)
  }
  return undefined
}

/** RQ's Queue.empty() Lua script, recognised by what it does (the prefix is RQ's job key prefix). */
function isRqEmptyScript(script: string): boolean {
  const flat = script.replace(/\s+/g, ' ')
  return flat.includes('redis.call("lpop", q)') && flat.includes('redis.call("del", prefix..job_id)') && flat.includes('local prefix = "rq:job:"')
}

function int(arg: Buffer): number {
  const text = str(arg)
  if (!/^-?\d{1,15}$/.test(text)) throw err('ERR value is not an integer or out of range')
  return Number(text)
}

function scoreBound(arg: Buffer): { value: number; exclusive: boolean } {
  let text = str(arg).toLowerCase()
  const exclusive = text.startsWith('(')
  if (exclusive) text = text.slice(1)
  const value = text === '-inf' ? -Infinity : text === '+inf' || text === 'inf' ? Infinity : Number(text)
  if (text === '' || Number.isNaN(value)) throw err('ERR min or max is not a float')
  return { value, exclusive }
}

const inRange = (score: number, min: { value: number; exclusive: boolean }, max: { value: number; exclusive: boolean }) =>
  (min.exclusive ? score > min.value : score >= min.value) && (max.exclusive ? score < max.value : score <= max.value)

/** Redis's start/stop indexes (negative from the end, inclusive). */
function slice<T>(items: T[], startArg: Buffer, stopArg: Buffer): T[] {
  let start = int(startArg)
  let stop = int(stopArg)
  if (start < 0) start = Math.max(0, items.length + start)
  if (stop < 0) stop = items.length + stop
  if (start > stop || start >= items.length) return []
  return items.slice(start, stop + 1)
}

const withScores = (members: ZMember[], scores: boolean): Reply[] => members.flatMap((m) => (scores ? [m.id, String(m.score)] : [m.id]))

function hasFlag(args: Buffer[], from: number, flag: string): boolean {
  return args.slice(from).some((arg) => str(arg).toUpperCase() === flag)
}

function limitOf(args: Buffer[], from: number): { offset: number; count: number } | undefined {
  for (let i = from; i < args.length; i++) {
    if (str(args[i]).toUpperCase() === 'LIMIT' && i + 2 < args.length) return { offset: int(args[i + 1]), count: int(args[i + 2]) }
  }
  return undefined
}

function applyLimit<T>(items: T[], limit: { offset: number; count: number } | undefined): T[] {
  if (!limit) return items
  return items.slice(limit.offset, limit.count < 0 ? undefined : limit.offset + limit.count)
}

/** The write a command asks for, in terms of RQ's keys; refuses what the key layout cannot hold. */
function effectOf(name: string, args: Buffer[], ctx: CommandContext): Effect {
  const key = str(args[1])
  const parsed = parseKey(key)
  switch (name) {
    case 'HSET':
    case 'HMSET': {
      if ((args.length - 2) % 2 !== 0) throw err(`ERR wrong number of arguments for '${name.toLowerCase()}' command`)
      if (parsed.type !== 'job') throw err(`ERR ${name} ${key.slice(0, 100)}: only job hashes (rq:job:<id>) accept writes, and only RQ's enqueue, cancel and requeue`)
      const fields = new Map<string, Buffer>()
      for (let i = 2; i < args.length; i += 2) fields.set(str(args[i]), args[i + 1])
      return { op: 'hset', id: parsed.id.toLowerCase(), fields }
    }
    case 'RPUSH':
    case 'LPUSH':
      if (parsed.type !== 'queue') throw err(`ERR ${name} ${key.slice(0, 100)}: only queues (rq:queue:<name>) accept pushes`)
      return { op: 'push', queue: parsed.queue, ids: args.slice(2).map((arg) => str(arg).toLowerCase()) }
    case 'LREM':
      int(args[2])
      return { op: 'remove', key, ids: [str(args[3]).toLowerCase()] }
    case 'ZREM':
      return { op: 'remove', key, ids: args.slice(2).map((arg) => str(arg).toLowerCase()) }
    case 'ZADD': {
      let i = 2
      while (i < args.length && ['NX', 'XX', 'GT', 'LT', 'CH', 'INCR'].includes(str(args[i]).toUpperCase())) i++
      if ((args.length - i) % 2 !== 0 || args.length === i) throw err('ERR syntax error')
      const ids: string[] = []
      const scores: number[] = []
      for (; i < args.length; i += 2) {
        scores.push(scoreBound(args[i]).value)
        ids.push(str(args[i + 1]).toLowerCase())
      }
      return { op: 'zadd', key, ids, scores }
    }
    case 'ZREMRANGEBYSCORE': {
      const min = scoreBound(args[2])
      const max = scoreBound(args[3])
      return { op: 'zremrange', key, min: min.exclusive ? min.value + 1 : min.value, max: max.exclusive ? max.value - 1 : max.value }
    }
    case 'SADD':
      return { op: 'sadd', key, members: args.slice(2).map(str) }
    case 'SREM':
      return { op: 'srem', key, members: args.slice(2).map(str) }
    case 'DEL':
      return { op: 'del', keys: args.slice(1).map(str) }
    case 'EVAL':
    case 'EVALSHA': {
      const script = name === 'EVAL' ? str(args[1]) : ctx.scripts.get(str(args[1]).toLowerCase())
      if (script === undefined) throw err('NOSCRIPT No matching script. Please use EVAL.')
      const keyCount = int(args[2])
      if (!isRqEmptyScript(script) || keyCount !== 1 || args.length < 4) {
        throw err("ERR scripts do not run here: the only one understood is RQ's Queue.empty()")
      }
      const queueKey = parseKey(str(args[3]))
      if (queueKey.type !== 'queue') throw err('ERR Queue.empty() needs a queue key')
      return { op: 'empty', queue: queueKey.queue }
    }
  }
  throw err(`ERR ${name} is not a write`)
}

/** Replies to one read command from the views. */
async function read(name: string, args: Buffer[], ctx: CommandContext): Promise<Reply> {
  const { view } = ctx
  const key = args.length > 1 ? str(args[1]) : ''
  const parsed = parseKey(key)
  switch (name) {
    case 'PING':
      // The guide's "is the queue reachable" check: PONG only when the database answers.
      await ctx.backend.ping()
      return args.length > 1 ? args[1] : new Status('PONG')
    case 'INFO':
      return info(ctx, args.length > 1 ? str(args[1]).toLowerCase() : 'default')
    case 'DBSIZE':
      return (await view.allKeys()).length
    case 'KEYS': {
      const pattern = globToRegExp(key)
      return (await view.allKeys()).filter((k) => pattern.test(k))
    }
    case 'SCAN': {
      const cursor = int(args[1])
      let match: RegExp | undefined
      let count = 10
      let type: string | undefined
      for (let i = 2; i + 1 < args.length; i += 2) {
        const option = str(args[i]).toUpperCase()
        if (option === 'MATCH') match = globToRegExp(str(args[i + 1]))
        else if (option === 'COUNT') count = Math.max(1, int(args[i + 1]))
        else if (option === 'TYPE') type = str(args[i + 1]).toLowerCase()
        else throw err('ERR syntax error')
      }
      const all = (await view.allKeys()).sort()
      const page = all.slice(cursor, cursor + count)
      const next = cursor + count >= all.length ? 0 : cursor + count
      let keys = page.filter((k) => !match || match.test(k))
      if (type) {
        const kept: string[] = []
        for (const k of keys) if ((await view.typeOf(k)) === type) kept.push(k)
        keys = kept
      }
      return [String(next), keys]
    }
    case 'EXISTS': {
      let n = 0
      for (const arg of args.slice(1)) if ((await view.typeOf(str(arg))) !== 'none') n++
      return n
    }
    case 'TYPE':
      return new Status(await view.typeOf(key))
    case 'TTL':
    case 'PTTL': {
      if ((await view.typeOf(key)) === 'none') return -2
      const job = parsed.type === 'job' ? await view.job(parsed.id) : undefined
      const row = job?.row
      if (!row?.ended_at || !['finished', 'failed', 'canceled'].includes(row.status)) return -1
      // Our cleanup deletes the job RQ_RESULT_TTL / RQ_FAILURE_TTL after it ended: that is its TTL.
      const ttl = row.status === 'finished' ? ctx.backend.resultTtlSeconds : ctx.backend.failureTtlSeconds
      const ms = Math.max(0, new Date(row.ended_at).getTime() + ttl * 1000 - Date.now())
      return name === 'TTL' ? Math.ceil(ms / 1000) : ms
    }
    case 'HGETALL': {
      const hash = await view.hash(parsed)
      return hash ? [...hash].flatMap(([field, value]) => [field, value]) : []
    }
    case 'HGET':
      return (await view.hash(parsed))?.get(str(args[2])) ?? null
    case 'HMGET': {
      const hash = await view.hash(parsed)
      return args.slice(2).map((field) => hash?.get(str(field)) ?? null)
    }
    case 'HEXISTS':
      return (await view.hash(parsed))?.has(str(args[2])) ? 1 : 0
    case 'HLEN':
      return (await view.hash(parsed))?.size ?? 0
    case 'HKEYS':
      return [...((await view.hash(parsed))?.keys() ?? [])]
    case 'SMEMBERS':
      return view.setMembers(parsed)
    case 'SCARD':
      return (await view.setMembers(parsed)).length
    case 'SISMEMBER':
      return (await view.setMembers(parsed)).includes(str(args[2])) ? 1 : 0
    case 'LLEN':
      return parsed.type === 'queue' ? (await view.queuedIds(parsed.queue)).length : 0
    case 'LRANGE':
      return parsed.type === 'queue' ? slice(await view.queuedIds(parsed.queue), args[2], args[3]) : []
    case 'LINDEX': {
      if (parsed.type !== 'queue') return null
      const ids = await view.queuedIds(parsed.queue)
      const index = int(args[2])
      return ids[index < 0 ? ids.length + index : index] ?? null
    }
    case 'ZCARD':
    case 'ZCOUNT':
    case 'ZSCORE':
    case 'ZRANGE':
    case 'ZREVRANGE':
    case 'ZRANGEBYSCORE':
    case 'ZREVRANGEBYSCORE': {
      const members = parsed.type === 'registry' ? await view.registry(parsed.registry, parsed.queue) : []
      if (name === 'ZCARD') return members.length
      if (name === 'ZSCORE') {
        const member = members.find((m) => m.id === str(args[2]).toLowerCase())
        return member ? String(member.score) : null
      }
      if (name === 'ZCOUNT') {
        const [min, max] = [scoreBound(args[2]), scoreBound(args[3])]
        return members.filter((m) => inRange(m.score, min, max)).length
      }
      const scores = hasFlag(args, 4, 'WITHSCORES')
      if (name === 'ZRANGE' && hasFlag(args, 4, 'BYSCORE')) {
        const reversed = hasFlag(args, 4, 'REV')
        const [min, max] = reversed ? [scoreBound(args[3]), scoreBound(args[2])] : [scoreBound(args[2]), scoreBound(args[3])]
        const hit = members.filter((m) => inRange(m.score, min, max))
        return withScores(applyLimit(reversed ? hit.reverse() : hit, limitOf(args, 4)), scores)
      }
      if (name === 'ZRANGE') {
        const ordered = hasFlag(args, 4, 'REV') ? [...members].reverse() : members
        return withScores(slice(ordered, args[2], args[3]), scores)
      }
      if (name === 'ZREVRANGE') return withScores(slice([...members].reverse(), args[2], args[3]), scores)
      const reversed = name === 'ZREVRANGEBYSCORE'
      const [min, max] = reversed ? [scoreBound(args[3]), scoreBound(args[2])] : [scoreBound(args[2]), scoreBound(args[3])]
      const hit = members.filter((m) => inRange(m.score, min, max))
      return withScores(applyLimit(reversed ? hit.reverse() : hit, limitOf(args, 4)), scores)
    }
    case 'XRANGE':
    case 'XREVRANGE':
      // Results live in the job hash (INFO reports Redis 4): there are no result streams.
      return []
  }
  throw err(`ERR ${name} is not a read`)
}

async function info(ctx: CommandContext, section: string): Promise<Reply> {
  const server = [
    '# Server',
    `redis_version:${REPORTED_REDIS_VERSION}`,
    'redis_mode:standalone',
    'os:housler rq-compat over PostgreSQL (no Redis)',
    'arch_bits:64',
    `process_id:${process.pid}`,
    `tcp_port:${ctx.port()}`,
    `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAt) / 1000)}`,
    '',
  ]
  const clients = ['# Clients', `connected_clients:${ctx.connections()}`, '']
  const replication = ['# Replication', 'role:master', 'connected_slaves:0', '']
  const parts: string[] = []
  const all = section === 'default' || section === 'all' || section === 'everything'
  if (all || section === 'server') parts.push(...server)
  if (all || section === 'clients') parts.push(...clients)
  if (all || section === 'replication') parts.push(...replication)
  if (all || section === 'keyspace') parts.push('# Keyspace', `db0:keys=${(await ctx.view.allKeys()).length},expires=0,avg_ttl=0`, '')
  return parts.join('\r\n')
}

function commandInfo(name: string): Reply {
  const spec = COMMANDS[name]
  const flags = spec.kind === 'write' ? [new Status('write')] : spec.kind === 'read' ? [new Status('readonly')] : [new Status('fast')]
  const keyed = spec.kind !== 'connection' && !['INFO', 'DBSIZE', 'KEYS', 'SCAN'].includes(name)
  return [name.toLowerCase(), spec.arity, flags, keyed ? 1 : 0, keyed ? (spec.arity < 0 ? -1 : 1) : 0, keyed ? 1 : 0]
}

function connectionCommand(name: string, args: Buffer[], session: Session, ctx: CommandContext): Reply {
  switch (name) {
    case 'ECHO':
      return args[1]
    case 'SELECT':
      return str(args[1]) === '0' ? OK : err('ERR DB index is out of range (only db 0: the Postgres queue is one keyspace)')
    case 'QUIT':
      session.quit = true
      return OK
    case 'AUTH':
      return authenticate(session, ctx, str(args[args.length - 1]))
    case 'HELLO': {
      const protocol = args.length > 1 ? str(args[1]) : '2'
      if (protocol !== '2') return err('NOPROTO unsupported protocol version: this server speaks RESP2 only')
      for (let i = 2; i < args.length; i++) {
        const option = str(args[i]).toUpperCase()
        if (option === 'AUTH' && i + 2 < args.length) {
          const reply = authenticate(session, ctx, str(args[i + 2]))
          if (reply instanceof RespError) return reply
          i += 2
        } else if (option === 'SETNAME' && i + 1 < args.length) {
          session.name = str(args[++i])
        } else return err('ERR syntax error in HELLO option')
      }
      if (ctx.authEnabled && !session.role) return err('NOAUTH HELLO must be called with the client already authenticated')
      return ['server', 'redis', 'version', REPORTED_REDIS_VERSION, 'proto', 2, 'id', session.id, 'mode', 'standalone', 'role', 'master', 'modules', []]
    }
    case 'CLIENT': {
      const sub = str(args[1]).toUpperCase()
      if (sub === 'SETNAME' && args.length === 3) {
        session.name = str(args[2])
        return OK
      }
      if (sub === 'GETNAME') return session.name
      if (sub === 'ID') return session.id
      if (sub === 'SETINFO') return OK
      if (sub === 'INFO' || sub === 'LIST') return `id=${session.id} name=${session.name ?? ''} db=0\n`
      return err(`ERR unknown subcommand '${sub.slice(0, 40)}' for 'client'`)
    }
    case 'COMMAND': {
      const sub = args.length > 1 ? str(args[1]).toUpperCase() : ''
      if (sub === '') return Object.keys(COMMANDS).map(commandInfo)
      if (sub === 'COUNT') return Object.keys(COMMANDS).length
      if (sub === 'DOCS') return []
      if (sub === 'INFO') return args.slice(2).map((arg) => (COMMANDS[str(arg).toUpperCase()] ? commandInfo(str(arg).toUpperCase()) : null))
      return err(`ERR unknown subcommand '${sub.slice(0, 40)}' for 'command'`)
    }
    case 'WATCH':
    case 'UNWATCH':
      // Every write is a queue operation in its own transaction; there is nothing to watch for.
      return OK
    case 'SCRIPT': {
      const sub = str(args[1]).toUpperCase()
      if (sub === 'LOAD' && args.length === 3) {
        const script = str(args[2])
        if (!isRqEmptyScript(script)) return err("ERR scripts do not run here: the only one understood is RQ's Queue.empty()")
        const sha = createHash('sha1').update(args[2]).digest('hex')
        if (ctx.scripts.size < 16) ctx.scripts.set(sha, script)
        return sha
      }
      if (sub === 'EXISTS') return args.slice(2).map((arg) => (ctx.scripts.has(str(arg).toLowerCase()) ? 1 : 0))
      if (sub === 'FLUSH') return OK
      return err(`ERR unknown subcommand '${sub.slice(0, 40)}' for 'script'`)
    }
  }
  return err(`ERR unknown command '${name}'`)
}

function authenticate(session: Session, ctx: CommandContext, key: string): Reply {
  if (!ctx.authEnabled) return OK
  const role = ctx.authenticate(key)
  if (!role) return err('WRONGPASS invalid username-password pair or user is disabled.')
  session.role = role
  return OK
}

/** Runs write commands as one batch: planned whole, checked for the admin key, then run in order. */
async function runWrites(commands: Array<{ name: string; args: Buffer[] }>, session: Session, ctx: CommandContext): Promise<Reply[]> {
  const effects = commands.map((command) => effectOf(command.name, command.args, ctx))
  const plan = await planWrites(ctx, effects)
  if (plan.changes && ctx.authEnabled && session.role !== 'admin') {
    throw err('NOPERM this write changes jobs and needs an admin key (ADMIN_API_KEYS): AUTH with one')
  }
  for (const operation of plan.operations) {
    try {
      await operation.run()
    } catch (e) {
      throw toRespError(e, ctx.log)
    }
  }
  return plan.replies()
}

/** AppErrors (validation, invalid state, not found) are the client's to read; anything else is logged, not shown. */
function toRespError(e: unknown, log: Logger): RespError {
  if (e instanceof RespError) return e
  const error = coerceError(e)
  // What redis-cli ping answers when Redis is down, said of the database that replaced it.
  if (isDatabaseUnreachable(error)) return err('ERR the queue database (DATABASE_URL) is unreachable; see GET /readyz')
  if (error instanceof AppError) {
    const details = error.details === undefined ? '' : ` ${JSON.stringify(error.details).slice(0, 300)}`
    return err(`ERR ${error.message}${details}`)
  }
  log.error({ err: error.message, stack: error.stack }, 'rq-compat command failed')
  return err('ERR internal error; the service log has the details')
}

/** The reply to one command of a connection, MULTI/EXEC included. */
export async function executeCommand(args: Buffer[], session: Session, ctx: CommandContext): Promise<Reply> {
  const name = str(args[0]).toUpperCase()
  if (ctx.authEnabled && !session.role && !['AUTH', 'HELLO', 'QUIT'].includes(name)) {
    return err('NOAUTH Authentication required.')
  }
  if (session.multi) {
    if (name === 'EXEC') return exec(session, ctx)
    if (name === 'DISCARD') {
      session.multi = null
      session.multiFailed = false
      return OK
    }
    if (name === 'MULTI') return err('ERR MULTI calls can not be nested')
    if (name === 'WATCH') return err('ERR WATCH inside MULTI is not allowed')
    const invalid = checkArity(name, args)
    if (invalid) {
      session.multiFailed = true
      return invalid
    }
    session.multi.push(args)
    return new Status('QUEUED')
  }
  if (name === 'MULTI') {
    session.multi = []
    session.multiFailed = false
    return OK
  }
  if (name === 'EXEC') return err('ERR EXEC without MULTI')
  if (name === 'DISCARD') return err('ERR DISCARD without MULTI')
  const invalid = checkArity(name, args)
  if (invalid) return invalid
  try {
    const kind = COMMANDS[name].kind
    if (kind === 'connection') return connectionCommand(name, args, session, ctx)
    if (kind === 'read') return await read(name, args, ctx)
    return (await runWrites([{ name, args }], session, ctx))[0]
  } catch (e) {
    return toRespError(e, ctx.log)
  }
}

async function exec(session: Session, ctx: CommandContext): Promise<Reply> {
  const queued = session.multi ?? []
  const failed = session.multiFailed
  session.multi = null
  session.multiFailed = false
  if (failed) return err('EXECABORT Transaction discarded because of previous errors.')
  const replies: Reply[] = new Array(queued.length)
  const writes: Array<{ index: number; name: string; args: Buffer[] }> = []
  try {
    for (const [index, args] of queued.entries()) {
      const name = str(args[0]).toUpperCase()
      const kind = COMMANDS[name].kind
      if (kind === 'write') writes.push({ index, name, args })
      else replies[index] = kind === 'read' ? await read(name, args, ctx).catch((e) => toRespError(e, ctx.log)) : connectionCommand(name, args, session, ctx)
    }
    if (writes.length > 0) {
      const written = await runWrites(writes, session, ctx)
      writes.forEach((write, i) => (replies[write.index] = written[i]))
    }
  } catch (e) {
    // One refused write discards the whole transaction: nothing in it has changed.
    const error = toRespError(e, ctx.log)
    return err(`EXECABORT Transaction discarded: ${error.message}`)
  }
  return replies
}
