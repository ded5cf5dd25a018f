import { createHash } from 'node:crypto'
import { Hono, type Context } from 'hono'
import { html, raw } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'
import { AppError } from '../errors.ts'
import { STATUSES, TERMINAL_STATUSES, type JobRow, type ProxyHealthRow, type QueueStatRow, type ThroughputRow, type WorkerRow } from '../queue/index.ts'
import type { AppDeps } from './app.ts'
import { JobIdSchema } from './contract.ts'
import { parseWith } from './validate.ts'

type Html = HtmlEscapedString | Promise<HtmlEscapedString>

const PAGE_SIZE = 25
const MAX_PAGE = 1_000_000
const LIST_STATUSES = STATUSES
// The script's action calls carry this header; a cross-site form cannot set it without a CORS preflight.
const ACTION_HEADER = 'x-housler-dashboard'

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString().replace('.000Z', 'Z') : '—')
/** A time the page's script shows in the browser's local time with its zone; UTC until it runs. */
const when = (value: Date | string | null | undefined): Html =>
  value ? html`<time datetime="${iso(value)}">${iso(value).replace('T', ' ').replace('Z', ' UTC')}</time>` : html`—`
const ENDED = new Set(['failed', 'canceled', 'finished', 'expired'])

/** The target a job worked on (a parse's listing URL), when its payload names one. */
function jobTarget(row: JobRow): string | null {
  const url = (row.payload as { url?: unknown } | null | undefined)?.url
  return typeof url === 'string' ? url : null
}

/** What kind of failure: a permanent one (settled before its retry budget ran out), a timeout, or retries used up. */
function errorKind(row: JobRow): string {
  if (row.status !== 'failed') return ''
  const name = /^(\w+):/.exec(row.stack ?? '')?.[1]
  const kind = /timed out|timeout/i.test(row.error ?? '') ? 'timeout' : row.attempts < row.max_attempts ? 'permanent' : 'retries exhausted'
  return name && name !== 'Error' ? `${kind} (${name})` : kind
}
const clamp = (value: number) => Math.max(0, Math.min(100, Math.round(Number(value) || 0)))
/** Longer strings (a page sent from a browser in a parse payload) are shown cut, with their length. */
const MAX_SHOWN_STRING = 2000
const json = (value: unknown) =>
  JSON.stringify(value ?? null, (_key, v) => (typeof v === 'string' && v.length > MAX_SHOWN_STRING ? `${v.slice(0, MAX_SHOWN_STRING)}… (${v.length} characters)` : v), 2)

function progressBar(row: Pick<JobRow, 'progress' | 'status'>): Html {
  // A failed or canceled job's last progress is history, not a bar still filling.
  if (row.status === 'failed' || row.status === 'canceled') return html`<span class="muted">—</span>`
  const pct = clamp(row.progress)
  return html`<div class="bar ${row.status}" role="progressbar" aria-valuenow="${pct}"><span style="width:${pct}%"></span><b>${pct}%</b></div>`
}

function layout(title: string, body: Html, refresh?: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · housler</title>
<link rel="icon" href="${FAVICON}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0 1.5rem 2rem;color:#222}
header{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #ddd;padding:.6rem 0;margin-bottom:1rem}
header a{color:#222;text-decoration:none;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;min-width:40rem}
th,td{border-bottom:1px solid #eee;padding:.3rem .6rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{position:relative;width:10rem;height:1rem;background:#eee;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%;background:#4a8;transition:width .3s}
.bar.failed span{background:#c44}.bar.canceled span{background:#999}
.bar b{position:absolute;inset:0;font-size:11px;text-align:center;line-height:1rem;font-weight:500}
.dead{color:#c44;font-weight:600}.busy{color:#27a}.idle{color:#777}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;max-height:24rem}
button{cursor:pointer}.muted{color:#888}
</style></head>
<body data-refresh="${refresh ?? ''}">
<header><a href="/dashboard">housler dashboard</a>
<form action="/dashboard/search" method="get"><input name="q" placeholder="job id or session id" size="40"> <button>Search</button></form>
<span id="flash" class="muted"></span></header>
${body}
<script>
${raw(CLIENT_SCRIPT)}
</script>
</body></html>`
}

// Polls the page's JSON endpoint and swaps the server-rendered (already escaped) fragments in;
// buttons with data-action POST and then reload the page.
const CLIENT_SCRIPT = `
function localTimes() {
  for (const t of document.querySelectorAll('time[datetime]')) {
    const d = new Date(t.getAttribute('datetime'))
    if (!Number.isNaN(d.getTime())) t.textContent = d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' })
  }
}
localTimes()
const refresh = document.body.dataset.refresh
async function poll() {
  if (!refresh) return
  try {
    const response = await fetch(refresh, { headers: { accept: 'application/json' } })
    if (response.ok) {
      const body = await response.json()
      for (const [id, fragment] of Object.entries(body.html || {})) {
        const element = document.getElementById(id)
        if (element && element.innerHTML !== fragment) element.innerHTML = fragment
      }
      localTimes()
    }
  } catch {}
  setTimeout(poll, 1000)
}
setTimeout(poll, 1000)
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]')
  if (!button) return
  if (button.dataset.confirm && !confirm(button.dataset.confirm)) return
  button.disabled = true
  const response = await fetch(button.dataset.action, { method: 'POST', headers: { '${ACTION_HEADER}': '1' } })
  const body = await response.json().catch(() => ({}))
  document.getElementById('flash').textContent = response.ok ? (body.message || 'done') : (body.error || 'failed')
  if (response.ok) setTimeout(() => location.reload(), 300)
  else button.disabled = false
})
`

function queuesTable(stats: QueueStatRow[], kinds: readonly string[]): Html {
  const counts = new Map(stats.map((row) => [`${row.kind}/${row.status}`, row.jobs]))
  const cell = (kind: string, status: string) => {
    const n = counts.get(`${kind}/${status}`) ?? 0
    return html`<td class="n">${n ? html`<a href="/dashboard/jobs?kind=${encodeURIComponent(kind)}&status=${status}">${n}</a>` : '0'}</td>`
  }
  return html`<table><thead><tr><th>kind</th>${LIST_STATUSES.map((s) => html`<th>${s}</th>`)}<th>actions</th></tr></thead><tbody>
${kinds.map(
  (kind) => html`<tr data-kind="${kind}"><td><a href="/dashboard/jobs?kind=${encodeURIComponent(kind)}">${kind}</a></td>${LIST_STATUSES.map((s) => cell(kind, s))}
<td><button data-action="/dashboard/api/queues/${encodeURIComponent(kind)}/requeue-failed" data-confirm="Run every failed ${kind} job again?">requeue failed</button>
<button data-action="/dashboard/api/queues/${encodeURIComponent(kind)}/empty" data-confirm="Delete every waiting ${kind} job?">empty</button></td></tr>`,
)}</tbody></table>`
}

function workersTable(workers: WorkerRow[]): Html {
  if (workers.length === 0) return html`<p class="muted">No worker processes registered.</p>`
  return html`<table><thead><tr><th>host</th><th>pid</th><th>state</th><th>kinds</th><th>current jobs</th><th>last heartbeat</th><th>finished (this process)</th><th>failed (this process)</th><th>version</th></tr></thead><tbody>
${workers.map(
  (w) => html`<tr data-worker="${w.id}"><td>${w.host}</td><td class="n">${w.pid}</td><td class="${w.state}">${w.state}</td><td>${w.kinds.join(', ')}</td>
<td>${w.current_jobs.map((id) => html`<a href="/dashboard/jobs/${id}">${id.slice(0, 8)}</a> `)}</td>
<td>${when(w.last_heartbeat_at)} <span class="muted">(${Math.round(w.heartbeat_age_seconds)} s ago)</span></td>
<td class="n">${w.finished_count}</td><td class="n">${w.failed_count}</td><td>${w.version}</td></tr>`,
)}</tbody></table>
<p class="muted" id="failed-counts-note">A worker's finished and failed columns count what that process ran since it started, each failure once;
the queue's failed column counts jobs that are failed now — a requeued job leaves it, a job past RQ_FAILURE_TTL expires out of it, and a job
failed by a worker that has since stopped stays in it.</p>`
}

function proxiesTable(proxies: ProxyHealthRow[]): Html {
  if (proxies.length === 0) return html`<p class="muted">No FETCH_PROXIES in use by live workers.</p>`
  return html`<table><thead><tr><th>proxy</th><th>workers</th><th>successes</th><th>failures</th><th>captchas</th><th>mean latency</th><th>cooling down</th></tr></thead><tbody>
${proxies.map(
  (p) => html`<tr data-proxy="${p.proxy}"><td>${p.proxy}</td><td class="n">${p.workers}</td><td class="n">${p.successes}</td><td class="n">${p.failures}</td>
<td class="n">${p.captchas}</td><td class="n">${p.latency_ms === null ? '—' : `${p.latency_ms} ms`}</td>
<td class="${p.cooling_until ? 'dead' : 'idle'}">${p.cooling_until ? html`until ${iso(p.cooling_until)} (${p.workers_cooling} of ${p.workers} workers)` : 'no'}</td></tr>`,
)}</tbody></table>`
}

function throughputChart(rows: ThroughputRow[]): Html {
  const width = 640
  const height = 160
  const M = { left: 36, right: 8, top: 22, bottom: 22 }
  const plotW = width - M.left - M.right
  const plotH = height - M.top - M.bottom
  const max = Math.max(1, ...rows.map((row) => row.finished + row.failed))
  const step = plotW / Math.max(1, rows.length)
  const y = (n: number) => M.top + plotH - (n / max) * plotH
  const bars = rows.map((row, i) => {
    const x = (M.left + i * step).toFixed(1)
    const w = Math.max(1, step - 2).toFixed(1)
    return html`<g><title>${iso(row.minute)}: ${row.finished} finished, ${row.failed} failed</title>
<rect x="${x}" y="${y(row.finished).toFixed(1)}" width="${w}" height="${(plotH - (y(row.finished) - M.top)).toFixed(1)}" fill="#4a8"></rect>
<rect x="${x}" y="${y(row.finished + row.failed).toFixed(1)}" width="${w}" height="${((row.failed / max) * plotH).toFixed(1)}" fill="#c44"></rect></g>`
  })
  const total = rows.reduce((sum, row) => sum + row.finished, 0)
  const failed = rows.reduce((sum, row) => sum + row.failed, 0)
  const first = rows[0]?.minute
  const last = rows.at(-1)?.minute
  return html`<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="jobs finished and failed per minute">
<g class="legend" font-size="11"><rect x="${M.left}" y="4" width="10" height="10" fill="#4a8"></rect><text x="${M.left + 14}" y="13">finished</text>
<rect x="${M.left + 74}" y="4" width="10" height="10" fill="#c44"></rect><text x="${M.left + 88}" y="13">failed</text>
<text x="${width - M.right}" y="13" text-anchor="end" fill="#888">jobs per minute</text></g>
<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#999"></line>
<line class="axis" x1="${M.left}" x2="${width - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#999"></line>
<text x="${M.left - 4}" y="${M.top + 4}" font-size="10" text-anchor="end" fill="#555">${max}</text>
<text x="${M.left - 4}" y="${M.top + plotH / 2 + 4}" font-size="10" text-anchor="end" fill="#555">${Math.round(max / 2)}</text>
<text x="${M.left - 4}" y="${M.top + plotH}" font-size="10" text-anchor="end" fill="#555">0</text>
${bars}
<text x="${M.left}" y="${height - 6}" font-size="10" fill="#555">${first ? `${rows.length} min ago` : ''}</text>
<text x="${width - M.right}" y="${height - 6}" font-size="10" text-anchor="end" fill="#555">${last ? 'now' : ''}</text></svg>
<p class="muted">last ${rows.length} min${first ? html` (from ${when(first)})` : ''}: ${total} finished, ${failed} failed</p>`
}

function jobsTable(rows: JobRow[]): Html {
  if (rows.length === 0) return html`<p class="muted">No jobs.</p>`
  return html`<table><thead><tr><th>id</th><th>kind</th><th>status</th><th>progress</th><th>target</th><th>attempts</th><th>message</th><th>session</th><th>created</th><th>error</th></tr></thead><tbody>
${rows.map((row) => {
  const target = jobTarget(row)
  return html`<tr data-job="${row.id}"><td><a href="/dashboard/jobs/${row.id}">${row.id}</a></td><td>${row.kind}</td><td>${row.status}</td>
<td>${progressBar(row)}</td><td class="target">${target ?? '—'}</td><td class="n attempts">${row.attempts} of ${row.max_attempts}</td>
<td>${ENDED.has(row.status) && row.status !== 'finished' ? '' : (row.message ?? '')}</td><td>${row.session_id ?? ''}</td><td>${when(row.created_at)}</td>
<td>${row.error ? html`<b class="error-kind">${errorKind(row)}</b> ${row.error}` : ''}</td></tr>`
})}</tbody></table>`
}

function jobDetail(row: JobRow): Html {
  const canRequeue = row.status === 'failed' || row.status === 'canceled'
  const canCancel = row.status !== 'expired' && !TERMINAL_STATUSES.has(row.status)
  const canDelete = row.status !== 'started'
  return html`<table>
<tr><th>id</th><td>${row.id}</td></tr><tr><th>kind</th><td>${row.kind}</td></tr>
<tr><th>status</th><td id="job-status">${row.status}</td></tr>
<tr><th>progress</th><td>${progressBar(row)} <span id="job-message">${row.message ?? ''}</span></td></tr>
<tr><th>priority</th><td>${row.priority}</td></tr><tr><th>session</th><td>${row.session_id ? html`<a href="/dashboard/jobs?session_id=${encodeURIComponent(row.session_id)}">${row.session_id}</a>` : '—'}</td></tr>
<tr><th>target</th><td>${jobTarget(row) ?? '—'}</td></tr>
<tr><th>created</th><td>${when(row.created_at)}</td></tr><tr><th>started</th><td>${when(row.started_at)}</td></tr><tr><th>ended</th><td>${when(row.ended_at)}</td></tr>
<tr><th>attempts</th><td id="job-attempts">${row.attempts} of ${row.max_attempts}</td></tr>
${row.status === 'failed' ? html`<tr><th>error kind</th><td id="job-error-kind">${errorKind(row)}</td></tr>` : ''}
<tr><th>depends on</th><td>${(row.depends_on ?? []).length ? row.depends_on.map((id) => html`<a href="/dashboard/jobs/${id}">${id}</a> `) : '—'}</td></tr>
</table>
<p>${canRequeue ? html`<button id="requeue" data-action="/dashboard/api/jobs/${row.id}/requeue">Requeue</button> ` : ''}
${canCancel ? html`<button id="cancel" data-action="/dashboard/api/jobs/${row.id}/cancel" data-confirm="Cancel this job?">Cancel</button> ` : ''}
${canDelete ? html`<button id="delete" data-action="/dashboard/api/jobs/${row.id}/delete" data-confirm="Delete this job?">Delete</button>` : ''}</p>
${row.error ? html`<h3>Error</h3><pre id="job-error">${row.error}</pre>` : ''}
${row.stack ? html`<h3>Stack</h3><pre>${row.stack}</pre>` : ''}
${row.result != null ? html`<h3>Result</h3><pre>${json(row.result)}</pre>` : ''}
<h3>Payload</h3><pre>${json(row.payload)}</pre>`
}

// A data: icon (the CSP allows data: images): a first visit asks the server for no /favicon.ico.
const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#27a"/><text x="8" y="12" font-size="11" text-anchor="middle" fill="#fff" font-family="sans-serif">H</text></svg>')}`

// The one inline script, allowed by its hash: an injected <script> would not run even if escaping failed.
const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(`\n${CLIENT_SCRIPT}\n`).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

async function fragment(value: Html): Promise<string> {
  return String(await value)
}

/** /dashboard: the operator UI over the same views operators query (housler.jobs, queue_stats, workers, proxy_health, throughput). */
export function createDashboardRoutes({ config, queue }: AppDeps): Hono {
  const routes = new Hono()
  routes.use('*', async (c, next) => {
    await next()
    if (c.res.headers.get('content-type')?.startsWith('text/html')) c.res.headers.set('Content-Security-Policy', DASHBOARD_CSP)
  })
  routes.use('/api/*', async (c, next) => {
    if (c.req.method === 'POST' && c.req.header(ACTION_HEADER) !== '1') {
      throw new AppError('ValidationFailed', `Dashboard actions need the ${ACTION_HEADER} header`, { details: { header: ACTION_HEADER } })
    }
    await next()
  })

  async function overview() {
    const [stats, workers, throughput, proxies] = await Promise.all([
      queue.monitoring.queueStats(),
      queue.monitoring.workers(),
      queue.monitoring.throughput(30),
      queue.monitoring.proxyHealth(),
    ])
    const kinds = [...new Set([...queue.kinds, ...stats.map((row) => row.kind)])]
    return {
      stats,
      workers,
      throughput,
      proxies,
      html: {
        queues: await fragment(queuesTable(stats, kinds)),
        workers: await fragment(workersTable(workers)),
        proxies: await fragment(proxiesTable(proxies)),
        throughput: await fragment(throughputChart(throughput)),
      },
    }
  }

  function listFilter(c: Context) {
    const status = c.req.query('status') || undefined
    if (status && !(LIST_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('ValidationFailed', `Unknown status "${status}"`, { details: { statuses: LIST_STATUSES } })
    }
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1)
    // The offset goes to SQL as a bigint: a page far past any real list is refused, not overflowed.
    if (page > MAX_PAGE) throw new AppError('ValidationFailed', `page must be at most ${MAX_PAGE}`, { details: { page: c.req.query('page') } })
    return { status, kind: c.req.query('kind') || undefined, sessionId: c.req.query('session_id') || undefined, page }
  }

  async function jobList(c: Context) {
    const filter = listFilter(c)
    const result = await queue.monitoring.jobs({ ...filter, limit: PAGE_SIZE, offset: (filter.page - 1) * PAGE_SIZE })
    return { filter, ...result, html: { jobs: await fragment(jobsTable(result.rows)) } }
  }

  async function jobById(c: Context) {
    const jobId = parseWith(JobIdSchema, c.req.param('id'), 'job id')
    const row = await queue.monitoring.findJob(jobId)
    if (!row || row.status === 'expired') {
      throw new AppError('JobNotFound', `No job ${jobId} (never enqueued, expired or deleted)`, { details: { job_id: jobId } })
    }
    return row
  }

  routes.get('/', async (c) => {
    const data = await overview()
    return c.html(
      layout(
        'overview',
        html`<h2>Queues</h2><div id="queues">${raw(data.html.queues)}</div>
<p><a href="/dashboard/jobs?status=failed">all failed jobs</a> · <a href="/dashboard/jobs?status=started">running jobs</a>
<button data-action="/dashboard/api/requeue-failed" data-confirm="Requeue every failed job?">requeue all failed</button></p>
<h2>Workers</h2><div id="workers">${raw(data.html.workers)}</div>
<h2>Proxies</h2><div id="proxies">${raw(data.html.proxies)}</div>
<h2>Throughput</h2><div id="throughput">${raw(data.html.throughput)}</div>`,
        '/dashboard/api/overview',
      ),
    )
  })
  routes.get('/api/overview', async (c) => c.json(await overview()))

  routes.get('/jobs', async (c) => {
    const data = await jobList(c)
    const { filter, total } = data
    const query = (page: number) =>
      new URLSearchParams(
        Object.entries({ status: filter.status, kind: filter.kind, session_id: filter.sessionId, page: String(page) }).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      ).toString()
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE))
    const title = [filter.kind ?? 'all kinds', filter.status ?? 'any status', filter.sessionId ? `session ${filter.sessionId}` : ''].filter(Boolean).join(' · ')
    return c.html(
      layout(
        'jobs',
        html`<h2>Jobs: ${title}</h2>
<p>${LIST_STATUSES.map((s) => html`<a href="/dashboard/jobs?${new URLSearchParams({ ...(filter.kind ? { kind: filter.kind } : {}), status: s }).toString()}">${s}</a> `)}</p>
<div id="jobs">${raw(data.html.jobs)}</div>
<p>page ${filter.page} of ${pages} (${total} jobs)
${filter.page > 1 ? html`<a id="prev" href="/dashboard/jobs?${query(filter.page - 1)}">← previous</a>` : ''}
${filter.page < pages ? html`<a id="next" href="/dashboard/jobs?${query(filter.page + 1)}">next →</a>` : ''}</p>`,
        `/dashboard/api/jobs?${query(filter.page)}`,
      ),
    )
  })
  routes.get('/api/jobs', async (c) => {
    const { html: fragments, filter, rows, total } = await jobList(c)
    return c.json({ filter, total, jobs: rows.map((row) => ({ id: row.id, kind: row.kind, status: row.status, progress: row.progress })), html: fragments })
  })

  routes.get('/jobs/:id', async (c) => {
    const row = await jobById(c)
    return c.html(layout(`job ${row.id}`, html`<h2>Job</h2><div id="job">${jobDetail(row)}</div>`, `/dashboard/api/jobs/${row.id}`))
  })
  routes.get('/api/jobs/:id', async (c) => {
    const row = await jobById(c)
    return c.json({ id: row.id, status: row.status, progress: row.progress, message: row.message, html: { job: await fragment(jobDetail(row)) } })
  })

  routes.get('/search', async (c) => {
    const q = (c.req.query('q') ?? '').trim()
    if (JobIdSchema.safeParse(q).success) {
      const row = await queue.monitoring.findJob(q)
      if (row && row.status !== 'expired') return c.redirect(`/dashboard/jobs/${row.id}`)
    }
    return c.redirect(`/dashboard/jobs?${new URLSearchParams({ session_id: q }).toString()}`)
  })

  routes.post('/api/jobs/:id/requeue', async (c) => {
    const body = await queue.requeue(parseWith(JobIdSchema, c.req.param('id'), 'job id'))
    return c.json({ message: `requeued ${body.job_id}`, job: body })
  })
  routes.post('/api/jobs/:id/cancel', async (c) => {
    const body = await queue.cancel(parseWith(JobIdSchema, c.req.param('id'), 'job id'))
    return c.json({ message: `canceled ${body.job_id}`, job: body })
  })
  routes.post('/api/jobs/:id/delete', async (c) => {
    const jobId = parseWith(JobIdSchema, c.req.param('id'), 'job id')
    await queue.remove(jobId)
    return c.json({ message: `deleted ${jobId}` })
  })
  routes.post('/api/requeue-failed', async (c) => {
    const ids = await queue.requeueFailed()
    return c.json({ message: `requeued ${ids.length} failed jobs`, job_ids: ids })
  })
  routes.post('/api/queues/:kind/requeue-failed', async (c) => {
    const ids = await queue.requeueFailed(c.req.param('kind'))
    return c.json({ message: `requeued ${ids.length} failed ${c.req.param('kind')} jobs`, job_ids: ids })
  })
  routes.post('/api/queues/:kind/empty', async (c) => {
    const deleted = await queue.emptyQueue(c.req.param('kind'))
    return c.json({ message: `deleted ${deleted} waiting ${c.req.param('kind')} jobs`, deleted })
  })
  return routes
}
