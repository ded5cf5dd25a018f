/** One configured proxy: `id` (scheme://host:port) is what logs, metrics and pages show; `url` keeps the credentials. */
export type Proxy = { id: string; url: URL }

export type ProxyHealth = {
  /** scheme://host:port, never the credentials. */
  proxy: string
  successes: number
  failures: number
  /** Pages the site answered with a captcha, block or challenge through this proxy. */
  captchas: number
  /** Mean of the successful attempts' durations; null before the first. */
  latencyMs: number | null
  /** ISO time until which the proxy is skipped; null when usable. */
  coolingUntil: string | null
}

export type ProxyPool = {
  readonly size: number
  /** The next usable proxy in rotation, skipping those in `exclude`; undefined without proxies. */
  next(exclude?: ReadonlySet<string>): Proxy | undefined
  /** True when a proxy outside `exclude` is usable now. */
  hasUsable(exclude: ReadonlySet<string>): boolean
  succeeded(proxy: Proxy, ms: number): void
  failed(proxy: Proxy): void
  /** A captcha or block through this proxy: cool-down base × 2^(consecutive blocks − 1), capped. */
  blocked(proxy: Proxy): void
  health(): ProxyHealth[]
}

/** Network failures in a row that take a proxy out of rotation for one base cool-down. */
const FAILURES_BEFORE_COOLDOWN = 3

/** The proxy URL without user and password: the only form of it that leaves this module. */
export function redactProxyUrl(url: URL): string {
  return `${url.protocol}//${url.host}`
}

type State = {
  proxy: Proxy
  successes: number
  failures: number
  captchas: number
  latencyTotalMs: number
  failuresInRow: number
  blocksInRow: number
  coolingUntilMs: number
}

export function createProxyPool(
  urls: readonly string[],
  options: { cooldownMs: number; cooldownMaxMs: number; now?: () => number },
): ProxyPool {
  const now = options.now ?? Date.now
  const states: State[] = urls.map((text, index) => {
    const url = new URL(text)
    // Two proxies on one host:port with different logins stay apart in metrics.
    const base = redactProxyUrl(url)
    const id = urls.slice(0, index).some((other) => redactProxyUrl(new URL(other)) === base) ? `${base}#${index + 1}` : base
    return { proxy: { id, url }, successes: 0, failures: 0, captchas: 0, latencyTotalMs: 0, failuresInRow: 0, blocksInRow: 0, coolingUntilMs: 0 }
  })
  const byId = new Map(states.map((state) => [state.proxy.id, state]))
  let cursor = 0

  const usable = (state: State) => state.coolingUntilMs <= now()
  const stateOf = (proxy: Proxy) => byId.get(proxy.id)!

  return {
    size: states.length,
    next(exclude = new Set()) {
      const candidates = states.filter((state) => !exclude.has(state.proxy.id))
      if (candidates.length === 0) return undefined
      for (let step = 0; step < states.length; step++) {
        const state = states[(cursor + step) % states.length]!
        if (exclude.has(state.proxy.id) || !usable(state)) continue
        cursor = (cursor + step + 1) % states.length
        return state.proxy
      }
      // All cooling down: the one that recovers first beats fetching from the service's own address.
      return candidates.reduce((a, b) => (b.coolingUntilMs < a.coolingUntilMs ? b : a)).proxy
    },
    hasUsable(exclude) {
      return states.some((state) => !exclude.has(state.proxy.id) && usable(state))
    },
    succeeded(proxy, ms) {
      const state = stateOf(proxy)
      state.successes++
      state.latencyTotalMs += ms
      state.failuresInRow = 0
      state.blocksInRow = 0
    },
    failed(proxy) {
      const state = stateOf(proxy)
      state.failures++
      state.failuresInRow++
      if (state.failuresInRow >= FAILURES_BEFORE_COOLDOWN) {
        state.coolingUntilMs = now() + options.cooldownMs
        state.failuresInRow = 0
      }
    },
    blocked(proxy) {
      const state = stateOf(proxy)
      state.captchas++
      state.blocksInRow++
      const cooldownMs = Math.min(options.cooldownMaxMs, options.cooldownMs * 2 ** (state.blocksInRow - 1))
      state.coolingUntilMs = now() + cooldownMs
    },
    health() {
      return states.map((state) => ({
        proxy: state.proxy.id,
        successes: state.successes,
        failures: state.failures,
        captchas: state.captchas,
        latencyMs: state.successes > 0 ? Math.round(state.latencyTotalMs / state.successes) : null,
        coolingUntil: usable(state) ? null : new Date(state.coolingUntilMs).toISOString(),
      }))
    },
  }
}
