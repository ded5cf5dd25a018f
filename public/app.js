// Housler wizard: plain browser ES module, no build step. Talks to the task API by the guide's
// contract (POST a task, poll /api/tasks/status/:id every 2 s) and keeps the session in localStorage.

const POLL_MS = 2000
// Where analogs come from: the server's default (store, then the live site) unless the page says ?source=.
const SOURCE = ['store', 'live', 'both'].includes(new URLSearchParams(location.search).get('source')) ? new URLSearchParams(location.search).get('source') : undefined
const STORE_KEY = 'housler.wizard.v1'
const SUPPORTED = [/(^|\.)cian\.ru$/, /(^|\.)domclick\.ru$/, /^(www\.|m\.)?avito\.ru$/, /^realty\.yandex\.ru$/]

const STRATEGY_HELP = {
  auto: 'Сначала ищем в том же доме и ЖК, затем рядом и по району — пока не наберётся достаточно аналогов.',
  same_building: 'Квартиры в этом же доме: самое точное сравнение, но таких объявлений бывает мало.',
  same_complex: 'Квартиры в том же жилом комплексе: похожие дома, отделка и инфраструктура.',
  nearby: 'Квартиры в радиусе пешей доступности: то же окружение и транспорт.',
  district: 'Квартиры в том же районе города: больше выборка, чуть меньше точность.',
  citywide: 'Квартиры по всему городу с похожими параметрами: когда рядом ничего нет.',
}

const REPAIR_OPTIONS = ['без отделки', 'требует ремонта', 'предчистовая', 'косметический', 'стандартная', 'евроремонт', 'премиум', 'дизайнерский']

const VERDICTS = {
  overpriced: { text: 'Цена завышена', tone: 'bad' },
  underpriced: { text: 'Цена ниже рынка', tone: 'good' },
  fair: { text: 'Цена соответствует рынку', tone: 'ok' },
}

// ------------------------------------------------------------------ state

const blank = () => ({ sessionId: newId(), step: 1, url: '', target: null, overrides: {}, strategy: 'auto', comparables: null, search: null, excluded: [], report: null, job: null, previous: null })
// Fewer analogs than this give no report: a median of one or two listings is not a market price.
const MIN_ANALOGS = 3
// Nothing stored means a first visit: the server has no session for a brand-new id either.
const firstVisit = (() => { try { return localStorage.getItem(STORE_KEY) === null } catch { return true } })()
let state = load()
let activePoll = null
let retryAction = null
let sort = { key: 'similarity', dir: -1 }

function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
}

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE_KEY) || 'null')
    if (s && typeof s.sessionId === 'string') return { ...blank(), ...s }
  } catch {}
  return blank()
}

function save() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(state))
  } catch {}
}

// ------------------------------------------------------------------ DOM helpers

const $ = (id) => document.getElementById(id)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue
    if (k === 'class') el.className = v
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'text') el.textContent = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

const nf = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 0 })
const nf1 = new Intl.NumberFormat('ru-RU', { maximumFractionDigits: 1 })
const rub = (n) => (n === null || n === undefined || !Number.isFinite(Number(n)) ? null : `${nf.format(Number(n))} ₽`)
const sqm = (n) => (n === null || n === undefined ? null : `${nf1.format(Number(n))} м²`)
const UNKNOWN = 'не указано'
/** A range for people: millions to 10 000 ₽, tens of thousands to 100 ₽ (the exact interval is in the report). */
const roundForPeople = (n) => { const step = n >= 1e6 ? 10000 : n >= 1e4 ? 100 : 1; return Math.round(n / step) * step }
/** Rent is always per month: «28 000 ₽/мес». */
const money = (n, deal = state?.target?.deal_type) => (rub(n) === null ? null : `${rub(n)}${deal === 'rent' ? '/мес' : ''}`)

/** «2-комн., 45 м², 5/9 эт., адрес»: what the listing is, never its ad slogan. */
function analogName(c) {
  const parts = []
  if (c.rooms !== null && c.rooms !== undefined) parts.push(c.rooms === 0 ? 'студия' : `${c.rooms}-комн.`)
  if (c.total_area) parts.push(sqm(c.total_area))
  if (c.floor !== null && c.floor !== undefined) parts.push(c.floors_total ? `${c.floor}/${c.floors_total} эт.` : `${c.floor} эт.`)
  if (c.address) parts.push(c.address)
  return parts.join(', ') || c.title || 'Объявление'
}

function unknown() {
  return h('span', { class: 'unknown' }, UNKNOWN)
}

function safeHref(url) {
  try {
    const u = new URL(url, location.href)
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null
  } catch {
    return null
  }
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(message, { status = 0, details = null, kind = 'task', code = null } = {}) {
    super(message)
    this.status = status
    this.details = details
    this.kind = kind
    this.code = code
  }
}

/** A POST's body: JSON, gzip-compressed when it is a whole page and the browser can compress. */
async function postInit(body) {
  const json = JSON.stringify(body)
  const headers = { 'Content-Type': 'application/json' }
  if (json.length < 65536 || typeof CompressionStream === 'undefined') return { method: 'POST', headers, body: json }
  const zipped = await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer()
  return { method: 'POST', headers: { ...headers, 'Content-Encoding': 'gzip' }, body: zipped }
}

async function api(path, body) {
  let response
  try {
    response = await fetch(path, body === undefined ? {} : await postInit(body))
  } catch (e) {
    throw new ApiError('network', { kind: 'network' })
  }
  let json = null
  try {
    json = await response.json()
  } catch {}
  if (!response.ok) throw new ApiError(json?.error || `HTTP ${response.status}`, { status: response.status, details: json?.details ?? null, kind: 'http', code: json?.code ?? null })
  return json
}

/** Runs a task: enqueue (or resume a stored job id), then poll every 2 s as the guide does. */
async function runTask(kind, endpoint, body, label) {
  stopPolling()
  hideAlert()
  showProgress(0, label)
  let jobId = state.job?.kind === kind ? state.job.id : null
  if (!jobId) {
    const queued = await api(endpoint, body)
    jobId = queued.job_id
    state.job = { kind, id: jobId }
    save()
    showProgress(0, queued.message && queued.message !== 'Task queued successfully' ? queued.message : 'В очереди...')
  }
  try {
    const result = await poll(jobId)
    state.job = null
    save()
    return result
  } catch (e) {
    // A job the server is still retrying stays ours: «Повторить» resumes it instead of starting another.
    if (!e.keepJob) {
      state.job = null
      save()
    }
    throw e
  }
}

function poll(jobId) {
  return new Promise((resolve, reject) => {
    let timer = null
    let misses = 0
    const tick = async () => {
      let status
      try {
        status = await api(`/api/tasks/status/${encodeURIComponent(jobId)}`)
        misses = 0
      } catch (e) {
        // A brief outage should not lose the job: keep polling a few times before giving up.
        if ((e.kind === 'network' || e.status >= 500) && ++misses < 4) return schedule()
        return reject(e)
      }
      if (status.status === 'scheduled' && status.next_attempt_at) {
        // The server retries by itself (a captcha, a busy site): say when, and keep polling.
        showProgress(null, retryNote(status))
        // The site refused our server: meanwhile the person's own browser can send the page.
        if (status.kind === 'parse' && status.error_code === 'SiteBlocked' && (!$('intake') || $('intake').hidden)) offerBrowserIntake()
        return schedule()
      }
      if (typeof status.progress === 'number') showProgress(status.progress, status.message || 'Обработка...')
      else if (status.message) showProgress(null, status.message)
      if (status.status === 'finished') {
        const result = status.result
        if (result && result.success === false) return reject(new ApiError(result.error || 'failed'))
        hideProgress(true)
        return resolve(result)
      }
      if (status.status === 'failed' || status.status === 'canceled') return reject(new ApiError(status.error || (status.status === 'canceled' ? 'canceled' : 'failed'), { details: status, code: status.status === 'canceled' ? 'JobCanceled' : (status.error_code ?? null) }))
      schedule()
    }
    const schedule = () => {
      timer = setTimeout(tick, POLL_MS)
    }
    activePoll = { jobId, cancel: () => { clearTimeout(timer); reject(new ApiError('aborted', { kind: 'aborted' })) } }
    // First look soon, so a quick job does not wait two seconds; then the guide's interval.
    timer = setTimeout(tick, 300)
  })
}

function stopPolling() {
  if (activePoll) {
    const p = activePoll
    activePoll = null
    p.cancel()
  }
}

// ------------------------------------------------------------------ errors in plain words

const hhmm = new Intl.DateTimeFormat('ru-RU', { hour: '2-digit', minute: '2-digit' })

/** «Сайт попросил проверку… Повторим автоматически в 10:51»: a retry the server has scheduled. */
function retryNote(status) {
  const at = new Date(status.next_attempt_at)
  const when = Number.isNaN(at.getTime()) ? 'чуть позже' : `в ${hhmm.format(at)}`
  const blocked = status.error_code === 'SiteBlocked'
  const why = blocked ? 'Сайт объявлений попросил проверку «я не робот».' : 'Сайт объявлений не ответил.'
  return `${why} Повторим автоматически ${when}${status.attempt && status.max_attempts ? ` (попытка ${status.attempt + 1} из ${status.max_attempts})` : ''}.`
}

// Russian text per error code; a retry is offered only where one can help.
const ERRORS = {
  network: { title: 'Нет связи с сервисом', text: 'Проверьте подключение к интернету и попробуйте ещё раз.', retry: true },
  QueueUnavailable: { title: 'Сервис временно недоступен', text: 'Мы уже знаем о проблеме. Попробуйте через минуту.', retry: true },
  SiteBlocked: { title: 'Сайт объявлений временно ограничил доступ', text: 'Сайт попросил пройти проверку «я не робот». Попробуйте позже — обычно это проходит через несколько минут.', retry: true },
  FetchFailed: { title: 'Сайт объявлений не ответил', text: 'Страница объявления не загрузилась. Попробуйте ещё раз.', retry: true },
  JobTimeout: { title: 'Сайт слишком долго не отвечал', text: 'Страница не загрузилась вовремя. Попробуйте ещё раз.', retry: true },
  RateLimited: { title: 'Слишком много запросов', text: 'Подождите минуту и попробуйте снова.', retry: true },
  ListingNotFound: { title: 'Объявление не найдено', text: 'Похоже, объявление снято с публикации или удалено. Проверьте ссылку или выберите другое объявление.', retry: false },
  NotAListing: { title: 'Это не страница объявления', text: 'По ссылке нет объявления о квартире. Откройте само объявление и скопируйте его адрес.', retry: false },
  UrlRejected: { title: 'Ссылка не подходит', text: 'Мы оцениваем объявления с ЦИАН, Авито, ДомКлик и Яндекс Недвижимости. Вставьте ссылку на объявление с одного из этих сайтов.', retry: false },
  ValidationFailed: { title: 'Не хватает данных', text: 'Для этого шага не хватает данных об объекте. Проверьте ссылку или уточните параметры квартиры.', retry: false },
  NotEnoughAnalogs: { title: 'Не хватает аналогов', text: 'Похожих объявлений слишком мало для оценки. Попробуйте искать шире — в районе или по городу.', retry: false },
  PermanentTaskFailure: { title: 'Этот шаг не получится выполнить', text: 'Повтор не поможет: для оценки не хватает данных. Попробуйте другие аналоги или другое объявление.', retry: false },
  JobCanceled: { title: 'Отменено', text: 'Шаг отменён. Его можно запустить снова.', retry: true },
  JobExpired: { title: 'Результат устарел', text: 'Сервис больше не хранит этот шаг. Запустите его снова.', retry: true },
  JobNotFound: { title: 'Результат устарел', text: 'Сервис больше не хранит этот шаг. Запустите его снова.', retry: true },
}
const GENERIC_ERROR = { title: 'Что-то пошло не так', text: 'Не удалось выполнить шаг. Попробуйте ещё раз.', retry: true }

/** Plain Russian for an error, decided by its code; English server text never reaches the page. */
function humanize(e) {
  if (e?.kind === 'network') return ERRORS.network
  if (e?.code && ERRORS[e.code]) return ERRORS[e.code]
  // An answer without our body (a proxy in front of the service) is known only by its HTTP status.
  if (e?.status === 503) return ERRORS.QueueUnavailable
  return GENERIC_ERROR
}

function showError(e, retry) {
  if (e?.kind === 'aborted') return
  hideProgress()
  const { title, text, retry: canRetry } = humanize(e)
  $('alert-title').textContent = title
  $('alert-text').textContent = text
  retryAction = canRetry ? retry : null
  $('alert-retry').hidden = !retryAction
  $('alert').hidden = false
  $('alert').focus?.()
}

function hideAlert() {
  $('alert').hidden = true
  retryAction = null
}

// ------------------------------------------------------------------ progress

let progressStarted = 0
let elapsedTimer = null

function showProgress(pct, message) {
  const bar = $('progress-bar')
  if ($('progress').hidden) {
    progressStarted = Date.now()
    clearInterval(elapsedTimer)
    elapsedTimer = setInterval(showElapsed, 1000)
    showElapsed()
  }
  $('progress').hidden = false
  if (pct !== null) {
    const v = Math.max(0, Math.min(100, Math.round(pct)))
    $('progress-fill').style.width = `${v}%`
    bar.setAttribute('aria-valuenow', String(v))
    bar.setAttribute('aria-valuetext', `${v}% — ${message}`)
  }
  $('progress-msg').textContent = message
  setBusy(true)
}

function showElapsed() {
  const seconds = Math.round((Date.now() - progressStarted) / 1000)
  $('progress-elapsed').textContent = `Прошло ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

/** Cancels the running job on the server and stops waiting for it. */
async function cancelRunning() {
  const jobId = activePoll?.jobId
  stopPolling()
  state.job = null
  save()
  hideProgress()
  if (jobId) {
    try {
      await api(`/api/tasks/${encodeURIComponent(jobId)}/cancel`, {})
    } catch {}
  }
  $('alert-title').textContent = 'Отменено'
  $('alert-text').textContent = 'Шаг остановлен. Его можно запустить снова.'
  retryAction = null
  $('alert-retry').hidden = true
  $('alert').hidden = false
}

function hideProgress(done = false) {
  if (done) $('progress-fill').style.width = '100%'
  clearInterval(elapsedTimer)
  $('progress').hidden = true
  setBusy(false)
}

function setBusy(busy) {
  for (const id of ['url-submit', 'similar-submit', 'to-report', 'report-rerun', 'manual-submit', 'add-analog-submit', 'add-analog-file']) {
    const b = $(id)
    if (b) b.disabled = busy
  }
  document.body.setAttribute('aria-busy', busy ? 'true' : 'false')
}

// ------------------------------------------------------------------ navigation

function maxStep() {
  if (state.report) return 4
  if (state.comparables && state.comparables.length >= MIN_ANALOGS) return 4
  if (state.comparables) return 3
  if (state.target) return 3
  return 1
}

function go(step, focus = true) {
  state.step = step
  save()
  for (const n of [1, 2, 3, 4]) $(`step-${n}`).hidden = n !== step
  const reach = maxStep()
  document.querySelectorAll('#steps li').forEach((li, i) => {
    const n = i + 1
    const btn = li.querySelector('button')
    li.className = n === step ? 'is-current' : n < step || n <= reach ? 'is-done' : ''
    if (n === step) btn.setAttribute('aria-current', 'step')
    else btn.removeAttribute('aria-current')
    btn.disabled = n > reach && n !== step
  })
  if (step === 2) renderProperty()
  if (step === 3) renderAnalogs()
  if (step === 4) renderReport()
  if (focus) $(`h-${step}`).focus()
}

// ------------------------------------------------------------------ step 1: URL

function checkUrl(raw) {
  const value = raw.trim()
  if (!value) return { error: 'Вставьте ссылку на объявление.' }
  // Spaces inside, or no dot at all, mean it is text rather than a copied address.
  if (/\s/.test(value) || !value.includes('.')) return { error: 'Это не похоже на ссылку. Скопируйте адрес объявления из строки браузера целиком.' }
  let url
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `https://${value}`)
  } catch {
    return { error: 'Это не похоже на ссылку. Скопируйте адрес объявления из строки браузера целиком.' }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: 'Ссылка должна начинаться с https://' }
  const host = url.hostname.replace(/\.$/, '').toLowerCase()
  if (!SUPPORTED.some((re) => re.test(host))) return { error: `Сайт ${host} пока не поддерживается. Подойдут объявления с ЦИАН, Авито, ДомКлик и Яндекс Недвижимости.` }
  if (url.pathname === '/' || url.pathname === '') return { error: 'Это ссылка на главную страницу сайта, а нужна ссылка на конкретное объявление.' }
  return { url: url.href }
}

async function submitUrl() {
  const input = $('url')
  const checked = checkUrl(input.value)
  if (checked.error) {
    $('url-error').textContent = checked.error
    input.setAttribute('aria-invalid', 'true')
    input.focus()
    return
  }
  $('url-error').textContent = ''
  input.removeAttribute('aria-invalid')
  // A new listing starts a new session, but the old one stays until the new page is parsed.
  if (state.url && state.url !== checked.url && !state.previous) {
    state = { ...blank(), url: checked.url, previous: { ...state, job: null, previous: null } }
  }
  state.url = checked.url
  input.value = checked.url
  save()
  try {
    const result = await runTask('parse', '/api/tasks/parse', { url: checked.url, session_id: state.sessionId }, 'Загрузка страницы...')
    acceptTarget(result)
  } catch (e) {
    if (state.previous && e.kind !== 'aborted') {
      // The new URL failed: the session the person had is theirs again, as it was.
      state = { ...state.previous, previous: null }
      save()
    }
    if (e.code === 'UrlRejected' || e.code === 'ValidationFailed') {
      $('url-error').textContent = humanize(e).text
      input.setAttribute('aria-invalid', 'true')
    }
    showError(e, submitUrl)
    if (isBlockedError(e)) offerBrowserIntake()
  }
}

/** A parse result becomes the session's target: step 2 from here. */
function acceptTarget(result) {
  hideBrowserIntake()
  state.target = result?.data ?? null
  state.comparables = null
  state.search = null
  state.report = null
  state.excluded = []
  state.previous = null
  save()
  go(2)
}

// ------------------------------------------------------------------ step 1b: the page from the user's own browser

const INTAKE_POLL_MS = 2000
let intakeWatch = null

function isBlockedError(e) {
  return [e?.code, e?.details?.code, e?.details?.error_code].includes('SiteBlocked')
}

/** The bookmarklet's source: posts this tab's page and address into our session, as a form to a new tab (no CSP connect-src can stop that). */
function bookmarkletSource(endpoint, sessionId, token) {
  const body = function (E, S, T) {
    var d = document, f = d.createElement('form'), k, t;
    f.method = 'POST'; f.action = E; f.target = '_blank'; f.enctype = 'multipart/form-data'; f.acceptCharset = 'utf-8'; f.style.display = 'none';
    var fields = { session_id: S, token: T, url: location.href, html: d.documentElement.outerHTML };
    for (k in fields) { t = d.createElement('textarea'); t.name = k; t.value = fields[k]; f.appendChild(t); }
    d.body.appendChild(f); f.submit(); d.body.removeChild(f);
  }
  return `javascript:${encodeURIComponent(`(${body.toString()})(${JSON.stringify(endpoint)},${JSON.stringify(sessionId)},${JSON.stringify(token)});void 0`)}`
}

async function intakeToken() {
  const known = state.intake
  if (known && known.sessionId === state.sessionId && Date.parse(known.expires_at) > Date.now() + 3600_000) return known.token
  const issued = await api(`/api/sessions/${encodeURIComponent(state.sessionId)}/intake-token`, {})
  state.intake = { sessionId: state.sessionId, token: issued.token, expires_at: issued.expires_at }
  save()
  return issued.token
}

/** Offered when the site refused our server: the user's browser, where the page opens, sends it instead. */
async function offerBrowserIntake() {
  let panel = $('intake')
  if (!panel) {
    panel = h('section', { class: 'intake', id: 'intake', 'aria-labelledby': 'intake-title' })
    $('step-1').append(panel)
  }
  panel.hidden = false
  panel.replaceChildren(
    h('h3', { id: 'intake-title' }, 'Отправьте страницу из своего браузера'),
    h('p', { class: 'hint' }, 'Сайт не отдал объявление нашему серверу, но в вашем браузере оно открывается. Передайте нам страницу такой, какой вы её видите.'),
  )
  let token
  try {
    token = await intakeToken()
  } catch (e) {
    panel.append(h('p', { class: 'field-error' }, 'Не удалось подготовить закладку. Можно загрузить сохранённую страницу файлом.'))
  }
  if (token) {
    const link = h('a', { class: 'btn bookmarklet', id: 'intake-bookmarklet', href: bookmarkletSource(`${location.origin}/api/intake`, state.sessionId, token) }, 'Отправить страницу в Housler')
    link.addEventListener('click', (e) => {
      e.preventDefault()
      $('intake-howto').textContent = 'Это закладка: перетащите кнопку на панель закладок, затем нажмите её на странице объявления.'
    })
    panel.append(
      h('p', {}, link),
      h('p', { class: 'help', id: 'intake-howto' }, 'Перетащите кнопку на панель закладок, откройте объявление и нажмите эту закладку.'),
    )
    watchBrowserIntake()
  }
  const file = h('input', { type: 'file', id: 'intake-file', accept: '.html,.htm,text/html' })
  file.addEventListener('change', () => { if (file.files?.[0]) sendSavedPage(file.files[0]) })
  panel.append(
    h('label', { for: 'intake-file', class: 'label' }, 'Или сохраните страницу объявления (Ctrl+S) и выберите файл'),
    file,
    h('p', { class: 'field-error', id: 'intake-error', 'aria-live': 'polite' }),
  )
}

function hideBrowserIntake() {
  if (intakeWatch) { clearTimeout(intakeWatch); intakeWatch = null }
  const panel = $('intake')
  if (panel) panel.hidden = true
}

/** Waits for the bookmarklet's page to arrive in this session, then follows its parse like any other. */
function watchBrowserIntake() {
  if (intakeWatch) clearTimeout(intakeWatch)
  const openedAt = Date.now()
  const tick = async () => {
    intakeWatch = null
    let latest = null
    try {
      latest = await api(`/api/sessions/${encodeURIComponent(state.sessionId)}/intake`)
    } catch {}
    if (latest?.received && Date.parse(latest.received_at) >= openedAt - 5000 && latest.job_id !== state.intake?.lastJob) {
      state.intake = { ...state.intake, lastJob: latest.job_id }
      state.url = latest.url
      $('url').value = latest.url
      state.job = { kind: 'parse', id: latest.job_id }
      save()
      return followBrowserParse(null)
    }
    if ($('intake') && !$('intake').hidden) intakeWatch = setTimeout(tick, INTAKE_POLL_MS)
  }
  intakeWatch = setTimeout(tick, INTAKE_POLL_MS)
}

async function followBrowserParse(body) {
  hideAlert()
  try {
    const result = await runTask('parse', '/api/tasks/parse', body, 'Разбор страницы из браузера...')
    acceptTarget(result)
  } catch (e) {
    showError(e)
    const error = $('intake-error')
    if (error) error.textContent = humanize(e).text
  }
}

/** A page saved with Ctrl+S, decoded in its own charset (api() sends it gzip-compressed when the browser can). */
async function readSavedPage(file) {
  const bytes = new Uint8Array(await file.arrayBuffer())
  const head = new TextDecoder('latin1').decode(bytes.slice(0, 4096))
  const charset = /<meta[^>]+charset=["']?([\w-]+)/i.exec(head)?.[1] || 'utf-8'
  try {
    return new TextDecoder(charset).decode(bytes)
  } catch {
    return new TextDecoder('utf-8').decode(bytes)
  }
}

/** The listing's address as a saved page states it (the browser's «saved from» note, canonical, og:url), else ''. */
function savedPageUrl(html) {
  const savedFrom = /<!-- saved from url=\(\d+\)(\S+?) -->/.exec(html.slice(0, 4096))?.[1]
  if (savedFrom) return savedFrom
  // Read as text: parsing the page into a document would run into its inline handlers (and our CSP).
  const attr = (tag, name) => new RegExp(`\\b${name}=["']([^"']+)`, 'i').exec(tag)?.[1]
  const canonical = /<link\b[^>]*\brel=["']?canonical\b[^>]*>/i.exec(html)?.[0]
  const og = /<meta\b[^>]*\bproperty=["']og:url["'][^>]*>/i.exec(html)?.[0]
  const url = (canonical && attr(canonical, 'href')) || (og && attr(og, 'content')) || ''
  return url.replaceAll('&amp;', '&')
}

async function sendSavedPage(file) {
  const html = await readSavedPage(file)
  state.job = null
  await followBrowserParse({ url: state.url, session_id: state.sessionId, html })
}

// ------------------------------------------------------------------ step 1, no listing: parameters typed in by hand

const MANUAL_INTEGERS = new Set(['rooms', 'floor', 'floors_total', 'year_built', 'balconies', 'bathrooms', 'price'])
const MANUAL_NUMBERS = new Set([...MANUAL_INTEGERS, 'total_area', 'ceiling_height'])

function manualInvalid(el, text) {
  el.setAttribute('aria-invalid', 'true')
  const label = el.closest('label')?.firstChild?.textContent?.trim()
  $('manual-error').textContent = label ? `${label}: ${text}` : text
  el.focus()
  return null
}

/** The form as the API's target_property, checked with the same bounds; null (and the field focused) when wrong. */
function readManual() {
  const form = $('manual-form')
  const out = {}
  for (const el of form.elements) {
    if (!el.name) continue
    el.removeAttribute('aria-invalid')
    const raw = el.value.trim()
    if (raw === '') {
      if (el.required) return manualInvalid(el, 'заполните это поле.')
      continue
    }
    if (MANUAL_NUMBERS.has(el.name)) {
      const n = Number(raw.replace(',', '.'))
      if (!Number.isFinite(n) || (el.min && n < Number(el.min)) || (el.max && n > Number(el.max))) return manualInvalid(el, `допустимо от ${el.min} до ${el.max}.`)
      out[el.name] = MANUAL_INTEGERS.has(el.name) ? Math.round(n) : n
    } else if (el.name === 'lift') out.lift = raw === 'true'
    else out[el.name] = raw
  }
  if (!out.address && !out.district) return manualInvalid(form.elements.address, 'укажите адрес или район.')
  if (out.floor !== undefined && out.floors_total !== undefined && out.floor > out.floors_total) return manualInvalid(form.elements.floor, 'этаж выше этажности дома.')
  $('manual-error').textContent = ''
  return out
}

/** Opens (inserting it from its template) or closes the form for a flat without a listing. */
function toggleManual() {
  const slot = $('manual-slot')
  const open = !$('manual-form')
  slot.replaceChildren()
  if (open) {
    slot.append($('manual-template').content.cloneNode(true))
    $('manual-form').addEventListener('submit', (e) => { e.preventDefault(); submitManual() })
    $('manual-form').elements.city.focus()
  }
  $('manual-open').setAttribute('aria-expanded', String(open))
}

async function submitManual() {
  const manual = readManual()
  if (!manual) return
  stopPolling()
  hideAlert()
  state = { ...blank(), manual }
  $('url').value = ''
  save()
  try {
    showProgress(0, 'Ставим оценку в очередь...')
    const queued = await api('/api/tasks/pipeline', { session_id: state.sessionId, target_property: manual, search_strategy: 'auto', ...(SOURCE ? { source: SOURCE } : {}) })
    state.job = { kind: 'manual', id: queued.jobs['find-similar'].job_id, report: queued.jobs.report.job_id }
    save()
    await resumeManual()
  } catch (e) {
    if (e.status === 400) {
      hideProgress()
      $('manual-error').textContent = `Проверьте параметры: ${(Array.isArray(e.details) ? e.details.map((d) => d.path).filter(Boolean).join(', ') : '') || e.message}`
      return
    }
    showError(e, submitManual)
  }
}

/** Polls the manual pipeline's search (with its «Уточняем аналоги» progress), then its report. */
async function resumeManual() {
  const job = state.job
  const similar = await poll(job.id)
  state.comparables = similar?.comparables ?? []
  save()
  const report = await poll(job.report)
  state.report = report
  state.job = null
  try {
    state.target = (await api(`/api/sessions/${encodeURIComponent(state.sessionId)}`)).target
  } catch {}
  save()
  go(4)
}

// ------------------------------------------------------------------ step 3: an analog added by hand

/** A listing URL field checked like step 1's: the URL, or null with the reason shown beside the field. */
function readUrlField(input, error) {
  const checked = checkUrl(input.value)
  error.textContent = checked.error ?? ''
  if (checked.error) input.setAttribute('aria-invalid', 'true')
  else input.removeAttribute('aria-invalid')
  if (checked.error) input.focus()
  return checked.url ?? null
}

/** An analog by its URL, or from a saved page (its URL typed in, else the one the page states). */
async function submitAnalog(savedPage) {
  const input = $('add-analog-url')
  const html = savedPage ? await readSavedPage(savedPage) : undefined
  if (html !== undefined && !input.value.trim()) input.value = savedPageUrl(html)
  const url = readUrlField(input, $('add-analog-error'))
  if (!url) {
    if (html !== undefined && !input.value.trim()) $('add-analog-error').textContent = 'В сохранённой странице нет адреса объявления: вставьте ссылку на него в поле выше и выберите файл ещё раз.'
    return
  }
  try {
    const body = html === undefined ? { url } : { url, html }
    const result = await runTask('analog', `/api/sessions/${encodeURIComponent(state.sessionId)}/analogs`, body, html === undefined ? 'Загружаем объявление аналога...' : 'Разбираем сохранённую страницу аналога...')
    const analog = { ...result.data, added_by_user: true }
    state.comparables = [...(state.comparables || []).filter((c) => c.url !== analog.url), analog]
    state.excluded = state.excluded.filter((u) => u !== analog.url)
    state.report = null
    input.value = ''
    save()
    renderAnalogs()
    $('analogs-title')?.focus()
  } catch (e) {
    hideProgress()
    // A refusal (another city, another deal type) is the server's own Russian sentence.
    $('add-analog-error').textContent = /^Аналог не добавлен/.test(e.message) ? e.message : humanize(e).text
    input.setAttribute('aria-invalid', 'true')
  }
}

// ------------------------------------------------------------------ step 2: property

const DEAL = { sale: 'Продажа', rent: 'Аренда' }
const MARKET = { secondary: 'вторичка', new_building: 'новостройка' }

function roomsText(r) {
  if (r === null || r === undefined) return null
  return r === 0 ? 'Студия' : `${r}-комнатная`
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value === null || value === undefined || value === '' ? unknown() : value))
}

function renderProperty() {
  const p = state.target
  const root = $('property')
  root.replaceChildren()
  if (!p) return
  const merged = { ...p, ...state.overrides }
  const href = safeHref(p.url)
  const photos = (p.photos || []).map(safeHref).filter(Boolean).slice(0, 6)
  const floor = p.floor !== null && p.floor !== undefined ? `${p.floor}${merged.floors_total ? ` из ${merged.floors_total}` : ''}` : null
  const metro = (p.metro_details?.length ? p.metro_details : (p.metro || []).map((name) => ({ name }))).map((m) =>
    h('li', {}, m.name, m.minutes ? h('span', { class: 'muted' }, ` · ${m.minutes} мин ${m.mode === 'transport' ? 'на транспорте' : 'пешком'}`) : null),
  )
  const ppsqm = p.price_per_sqm ?? (p.price && p.total_area ? p.price / p.total_area : null)
  root.append(
    h('article', { class: 'card', 'aria-labelledby': 'prop-title' },
      h('div', { class: 'card__head' },
        h('div', {},
          h('h3', { id: 'prop-title', class: 'card__title' }, p.title || [roomsText(p.rooms), p.total_area ? sqm(p.total_area) : null].filter(Boolean).join(', ') || 'Квартира'),
          h('p', { class: 'muted' }, p.address || UNKNOWN),
        ),
        h('div', { class: 'card__price' },
          h('p', { class: 'price' }, money(p.price, p.deal_type) ?? unknown()),
          h('p', { class: 'muted' }, ppsqm ? `${rub(ppsqm)} за м²` : ''),
        ),
      ),
      photos.length ? h('ul', { class: 'photos', 'aria-label': 'Фотографии' }, photos.map((src, i) => h('li', {}, h('img', { src, alt: `Фото ${i + 1}`, loading: 'lazy', referrerpolicy: 'no-referrer', onerror: (e) => e.target.closest('li')?.remove() })))) : null,
      h('dl', { class: 'facts' },
        fact('Сделка', [DEAL[p.deal_type], MARKET[p.market]].filter(Boolean).join(', ') || null),
        fact('Комнаты', roomsText(p.rooms)),
        fact('Общая площадь', sqm(merged.total_area)),
        fact('Жилая площадь', sqm(merged.living_area)),
        fact('Кухня', sqm(p.kitchen_area)),
        fact('Этаж', floor),
        fact('Район', p.district),
        fact('Город', p.city),
        fact('Год постройки', merged.year_built ?? (p.completion_year ? `сдача в ${p.completion_year}` : null)),
        fact('Тип дома', p.house_type),
        fact('Высота потолков', merged.ceiling_height ? `${nf1.format(merged.ceiling_height)} м` : null),
        fact('Ремонт', merged.repair),
        fact('Жилой комплекс', p.residential_complex),
      ),
      metro.length ? h('div', {}, h('h4', { class: 'sub' }, 'Метро'), h('ul', { class: 'metro' }, metro)) : null,
      href ? h('p', {}, h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, 'Открыть объявление на сайте ↗')) : null,
    ),
  )
  renderOverrideFields()
}

function renderOverrideFields() {
  const p = state.target
  const o = state.overrides
  const box = $('override-fields')
  box.replaceChildren()
  const fieldLabel = (id, text, known) => h('label', { for: id, class: 'label' }, text, ' ', known ? null : h('span', { class: 'badge' }, UNKNOWN))
  // The listing's repair is the selected value (short enough to read in the box), not a long first option.
  const known = p.repair ? REPAIR_OPTIONS.find((r) => r.toLowerCase() === p.repair.toLowerCase()) ?? null : null
  const chosen = o.repair ?? known
  const repairSelect = h('select', { id: 'ov-repair', name: 'repair', 'data-known': known },
    known ? null : h('option', { value: '' }, p.repair ? `${p.repair} (как в объявлении)` : '— выберите —'),
    REPAIR_OPTIONS.map((r) => h('option', { value: r, selected: chosen === r }, r)),
  )
  box.append(
    h('div', { class: 'field' }, fieldLabel('ov-repair', 'Ремонт', p.repair), repairSelect, p.repair ? h('p', { class: 'help' }, chosen && chosen !== known ? `В объявлении: ${p.repair}` : 'Из объявления') : null),
    numberField('ov-ceiling', 'ceiling_height', 'Высота потолков, м', p.ceiling_height, o.ceiling_height, { min: 2, max: 6, step: 0.05 }, fieldLabel),
    numberField('ov-year', 'year_built', 'Год постройки', p.year_built, o.year_built, { min: 1800, max: 2100, step: 1 }, fieldLabel),
    numberField('ov-living', 'living_area', 'Жилая площадь, м²', p.living_area, o.living_area, { min: 1, max: 2000, step: 0.1 }, fieldLabel),
    numberField('ov-floors', 'floors_total', 'Этажей в доме', p.floors_total, o.floors_total, { min: 1, max: 200, step: 1 }, fieldLabel),
  )
}

function numberField(id, name, text, known, value, limits, fieldLabel) {
  const has = known !== null && known !== undefined
  // What the listing says is shown as a value (editable), not as a grey hint that looks empty.
  return h('div', { class: 'field' },
    fieldLabel(id, text, has),
    h('input', { id, name, type: 'number', inputmode: 'decimal', ...limits, value: value ?? (has ? known : ''), 'data-known': has ? String(known) : null }),
    has ? h('p', { class: 'help' }, value !== undefined && value !== null && Number(value) !== Number(known) ? `В объявлении: ${known}` : 'Из объявления') : null,
  )
}

function readOverrides() {
  const form = $('overrides-form')
  const out = {}
  const repair = form.elements.repair.value
  if (repair && repair !== form.elements.repair.dataset.known) out.repair = repair
  for (const name of ['ceiling_height', 'year_built', 'living_area', 'floors_total']) {
    const el = form.elements[name]
    if (el.value === '') continue
    const n = Number(el.value)
    // The listing's own value is not an override.
    if (el.dataset.known !== undefined && Number(el.dataset.known) === n) continue
    if (!Number.isFinite(n) || (el.min && n < Number(el.min)) || (el.max && n > Number(el.max))) {
      el.setAttribute('aria-invalid', 'true')
      el.focus()
      return null
    }
    el.removeAttribute('aria-invalid')
    out[name] = name === 'year_built' || name === 'floors_total' ? Math.round(n) : n
  }
  return out
}

// ------------------------------------------------------------------ step 3: analogs

async function runSimilar() {
  state.strategy = $('strategy').value
  save()
  try {
    const result = await runTask('similar', '/api/tasks/find-similar', {
      session_id: state.sessionId,
      target_property: { ...state.target, ...state.overrides },
      limit: 20,
      search_strategy: state.strategy,
      ...(SOURCE ? { source: SOURCE } : {}),
    }, 'Ищем похожие объявления...')
    state.comparables = result?.comparables ?? []
    state.search = result?.summary ?? null
    state.excluded = []
    state.report = null
    save()
    go(3, false)
    $('analogs-title')?.focus()
  } catch (e) {
    showError(e, runSimilar)
  }
}

const COLUMNS = [
  { key: 'include', label: 'В расчёте', sortable: false },
  { key: 'address', label: 'Объявление', sortable: true },
  { key: 'price', label: 'Цена', sortable: true, num: true },
  { key: 'price_per_sqm', label: '₽ за м²', sortable: true, num: true },
  { key: 'total_area', label: 'Площадь', sortable: true, num: true },
  { key: 'rooms', label: 'Комн.', sortable: true, num: true },
  { key: 'floor', label: 'Этаж', sortable: true, num: true },
  { key: 'distance_km', label: 'Расстояние', sortable: true, num: true },
  { key: 'similarity', label: 'Сходство', sortable: true, num: true },
]

function ppsqmOf(c) {
  return c.price_per_sqm ?? (c.price && c.total_area ? c.price / c.total_area : null)
}

const REJECT_RU = {
  target_itself: 'это само объявление',
  duplicate_url: 'повторы',
  duplicate_listing: 'повторы',
  other_region: 'в другом городе',
  unknown_region: 'город не указан',
  other_deal_type: null,
  other_property_type: 'не квартира',
  missing_price: 'без цены',
  missing_area: 'без площади',
  price_ratio: 'цена слишком отличается',
  area_ratio: 'площадь слишком отличается',
  price_per_sqm_deviation: 'цена за м² слишком отличается',
}
const STRATEGY_RU = { same_building: 'в том же доме', same_complex: 'в том же ЖК', nearby: 'рядом', district: 'в том же районе', citywide: 'по всему городу' }

function plural(n, one, few, many) {
  const m10 = n % 10
  const m100 = n % 100
  if (m10 === 1 && m100 !== 11) return one
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few
  return many
}

/** «в Москве», «в Тюмени», «в Новосибирске»: good enough for city names in a sentence. */
function inCity(name) {
  const inflect = (w) => (/[ая]$/.test(w) ? w.slice(0, -1) + 'е' : /ь$/.test(w) ? w.slice(0, -1) + 'и' : /[бвгдзклмнпрстфхцчшщ]$/.test(w) ? w + 'е' : w)
  const parts = name.split('-')
  const i = /-на-/.test(name) ? 0 : parts.length - 1
  parts[i] = inflect(parts[i])
  return `в ${parts.join('-')}`
}

const DEAL_WORD = { sale: 'продажа', rent: 'аренда' }

/** The server's reasons in plain Russian: what was searched, what was found and why it was left out. */
function explainSearch(sum, target, kept) {
  const lines = []
  if (sum.region && sum.region.code === null) {
    lines.push(`Не удалось определить город объекта: нет ${sum.region.missing_facts.join(', ')}. Без города искать аналоги негде.`)
    return lines
  }
  const where = (sum.steps || []).filter((s) => !s.skipped).map((s) => s.label)
  if (sum.found === 0) {
    if (where.length) lines.push(`Искали ${where.join(', ')} — похожих объявлений не нашлось.`)
    for (const step of (sum.steps || []).filter((s) => s.skipped)) lines.push(`Поиск ${step.label} не запускали: ${step.skipped}.`)
  } else if (kept < MIN_ANALOGS) {
    const n = sum.found
    const deals = Object.entries(sum.rejected_deal_types || {})
    const cities = Object.entries(sum.rejected_cities || {})
    const otherDeal = deals.length === 1 && deals[0][1] === sum.rejected && deals[0][0] !== target?.deal_type ? DEAL_WORD[deals[0][0]] : null
    const otherCity = cities.length === 1 && cities[0][1] === sum.rejected && (sum.rejected_by_reason?.other_region ?? 0) > 0 ? inCity(cities[0][0]) : null
    const head = `Нашли ${n} ${plural(n, 'объявление', 'объявления', 'объявлений')}`
    if (kept === 0 && (otherDeal || otherCity)) {
      lines.push(`${head}, но все — ${[otherDeal, otherCity].filter(Boolean).join(' ')}.`)
    } else {
      const counts = new Map()
      for (const [reason, count] of Object.entries(sum.rejected_by_reason || {})) {
        const word = reason === 'other_deal_type' ? (otherDeal || (target?.deal_type === 'rent' ? 'продажа' : 'аренда')) : REJECT_RU[reason] || 'не подходят по параметрам'
        counts.set(word, (counts.get(word) || 0) + count)
      }
      const why = [...counts].map(([word, count]) => `${count} — ${word}`).join(', ')
      lines.push(`${head}, подошли ${kept}${why ? `; не подошли: ${why}` : ''}.`)
    }
  }
  for (const note of sum.notices || []) lines.push(note)
  return lines
}

function renderAnalogs() {
  $('strategy').value = state.strategy || 'auto'
  $('strategy-help').textContent = STRATEGY_HELP[$('strategy').value]
  const root = $('analogs')
  root.replaceChildren()
  const list = state.comparables
  $('analogs-actions').hidden = !list || list.length < MIN_ANALOGS
  $('add-analog-form').hidden = !list
  if (!list) return
  if (list.length < MIN_ANALOGS) {
    const sum = state.search
    const lines = sum ? explainSearch(sum, state.target, list.length) : []
    const wider = sum?.wider_strategy
    root.append(
      h('div', { class: 'empty', id: list.length === 0 ? 'analogs-title' : 'search-explain', tabindex: '-1' },
        h('p', { class: 'summary' }, list.length === 0 ? 'Похожих объявлений для оценки не нашлось.' : `Для оценки нужно хотя бы ${MIN_ANALOGS} аналога, а нашлось ${list.length}.`),
        h('ul', { id: 'search-reasons' }, lines.map((line) => h('li', {}, line))),
        wider
          ? h('button', { type: 'button', class: 'btn', id: 'search-wider', onclick: () => { state.strategy = wider; $('strategy').value = wider; save(); runSimilar() } }, `Искать шире: ${STRATEGY_RU[wider] || wider}`)
          : sum && sum.region?.code !== null ? h('p', { class: 'muted', id: 'no-wider' }, 'Шире искать некуда: поиск уже шёл по всему городу.') : null,
      ),
    )
    if (list.length === 0) return
  }
  const excluded = new Set(state.excluded)
  const val = (c, key) => (key === 'price_per_sqm' ? ppsqmOf(c) : key === 'address' ? c.address || c.title || '' : c[key])
  const rows = [...list].sort((a, b) => {
    const x = val(a, sort.key)
    const y = val(b, sort.key)
    if (x === null || x === undefined) return 1
    if (y === null || y === undefined) return -1
    return (typeof x === 'string' ? x.localeCompare(y, 'ru') : x - y) * sort.dir
  })
  const used = list.length - list.filter((c) => excluded.has(c.url)).length
  root.append(
    h('p', { id: 'analogs-title', class: 'summary', tabindex: '-1', 'aria-live': 'polite' }, `Найдено аналогов: ${list.length}. В расчёте: ${used}.`),
    h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'analogs-caption', tabindex: '0' },
      h('table', { class: 'analogs' },
        h('caption', { id: 'analogs-caption', class: 'visually-hidden' }, 'Аналоги: снимите флажок, чтобы исключить объявление из расчёта'),
        h('thead', {}, h('tr', {}, COLUMNS.map((col) => {
          if (!col.sortable) return h('th', { scope: 'col' }, col.label)
          const active = sort.key === col.key
          return h('th', { scope: 'col', 'aria-sort': active ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none', class: col.num ? 'num' : '' },
            h('button', { type: 'button', class: 'sort', onclick: () => { sort = { key: col.key, dir: active ? -sort.dir : col.key === 'similarity' ? -1 : 1 }; renderAnalogs(); document.querySelector(`[data-sort="${col.key}"]`)?.focus() }, 'data-sort': col.key },
              col.label, h('span', { 'aria-hidden': 'true', class: 'sort__icon' }, active ? (sort.dir > 0 ? ' ▲' : ' ▼') : ' ↕')))
        }))),
        h('tbody', {}, rows.map((c, i) => {
          const href = safeHref(c.url)
          const off = excluded.has(c.url)
          const id = `inc-${i}`
          const name = analogName(c)
          return h('tr', { class: off ? 'is-off' : '' },
            h('td', { 'data-label': 'В расчёте' }, h('input', { type: 'checkbox', id, checked: !off, 'aria-label': `Учитывать в расчёте: ${name}`, onchange: (ev) => toggleExclude(c.url, !ev.target.checked) })),
            h('td', { 'data-label': 'Объявление' }, h('div', {}, href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, name) : name,
              h('div', { class: 'muted small' }, [MARKET[c.market], c.residential_complex, c.added_by_user ? 'добавлен вручную' : null, c.facts_source === 'card' ? 'по данным карточки поиска' : null].filter(Boolean).join(' · ')),
              (c.reasons || []).length ? h('ul', { class: 'reasons', 'aria-label': 'Почему выбран' }, c.reasons.map((r) => h('li', {}, r))) : null)),
            h('td', { class: 'num', 'data-label': 'Цена' }, money(c.price, c.deal_type) ?? '—'),
            h('td', { class: 'num', 'data-label': '₽ за м²' }, rub(ppsqmOf(c)) ?? '—'),
            h('td', { class: 'num', 'data-label': 'Площадь' }, sqm(c.total_area) ?? '—'),
            h('td', { class: 'num', 'data-label': 'Комнат' }, c.rooms ?? '—'),
            h('td', { class: 'num', 'data-label': 'Этаж' }, c.floor !== null && c.floor !== undefined ? `${c.floor}${c.floors_total ? `/${c.floors_total}` : ''}` : '—'),
            h('td', { class: 'num', 'data-label': 'Расстояние' }, c.distance_km !== null && c.distance_km !== undefined ? `${nf1.format(c.distance_km)} км` : '—'),
            h('td', { class: 'num', 'data-label': 'Сходство' }, c.similarity !== null && c.similarity !== undefined ? `${nf.format(c.similarity <= 1 ? c.similarity * 100 : c.similarity)}%` : '—'),
          )
        })),
      ),
    ),
  )
}

function toggleExclude(url, exclude) {
  const set = new Set(state.excluded)
  if (exclude) set.add(url)
  else set.delete(url)
  state.excluded = [...set]
  state.report = null
  save()
  const list = state.comparables || []
  const used = list.length - list.filter((c) => set.has(c.url)).length
  $('analogs-title').textContent = `Найдено аналогов: ${list.length}. В расчёте: ${used}.`
  document.querySelectorAll('#analogs tbody tr').forEach((tr) => {
    const box = tr.querySelector('input[type=checkbox]')
    tr.className = box && !box.checked ? 'is-off' : ''
  })
}

// ------------------------------------------------------------------ step 4: report

async function runReport() {
  try {
    const result = await runTask('report', '/api/tasks/report', {
      session_id: state.sessionId,
      overrides: state.overrides,
      exclude_urls: state.excluded,
    }, 'Считаем справедливую цену...')
    state.report = result
    save()
    go(4)
  } catch (e) {
    showError(e, runReport)
  }
}

function renderReport() {
  const root = $('report')
  root.replaceChildren()
  const r = state.report
  if (!r) {
    root.append(h('p', { class: 'hint' }, 'Отчёт ещё не построен.'), h('button', { type: 'button', class: 'btn btn--primary', onclick: runReport }, 'Построить отчёт'))
    return
  }
  const v = r.valuation || {}
  const rent = (v.deal_type ?? state.target?.deal_type) === 'rent'
  const cash = (n) => money(n, rent ? 'rent' : 'sale')
  const verdict = VERDICTS[v.verdict] || null
  const range = v.price_range || {}
  const dev = typeof v.deviation_pct === 'number' ? v.deviation_pct : typeof v.difference === 'number' ? v.difference * 100 : null
  const conf = typeof v.confidence === 'object' && v.confidence ? v.confidence.score : v.confidence
  const confScore = conf === null || conf === undefined ? null : conf <= 1 ? conf * 100 : conf
  const fairPsm = v.fair_price_per_sqm ?? v.price_per_sqm?.fair
  const interval = v.interval_95?.total
  const reportHref = r.report_url && r.report_url.startsWith('/') ? r.report_url : null
  const mdHref = r.markdown_url && r.markdown_url.startsWith('/') ? r.markdown_url : null
  root.append(
    h('div', { class: 'result' },
      h('div', { class: 'result__main' },
        h('p', { class: 'muted' }, rent ? 'Справедливая ставка аренды' : 'Справедливая цена'),
        h('p', { class: 'big', id: 'fair-price' }, cash(v.fair_price) ?? '—'),
        h('p', { class: 'muted' }, fairPsm ? `${rub(fairPsm)} за м²${rent ? ' в месяц' : ''}` : ''),
        Array.isArray(interval) ? h('p', { id: 'fair-range' }, `${rent ? 'Такие квартиры сдаются' : 'Такие квартиры продаются'} за ${cash(roundForPeople(interval[0]))} – ${cash(roundForPeople(interval[1]))}`) : null,
      ),
      h('div', { class: `verdict verdict--${verdict?.tone || 'ok'}` },
        h('p', { class: 'verdict__text', id: 'verdict' }, v.verdict_ru || (rent && verdict ? verdict.text.replace(/^Цена/, 'Ставка') : verdict?.text) || 'Вердикт не определён'),
        dev !== null ? h('p', {}, `${rent ? 'Ставка' : 'Цена'} в объявлении ${dev > 0 ? 'выше' : 'ниже'} справедливой на ${nf1.format(Math.abs(dev))}%`) : null,
        confScore !== null ? h('p', { class: 'muted', id: 'confidence' }, `Надёжность оценки: ${nf.format(confScore)} из 100 — ${confScore >= 75 ? 'высокая' : confScore >= 50 ? 'средняя' : 'низкая'}`) : null,
      ),
    ),
    Object.keys(range).length
      ? h('dl', { class: 'range' },
          range.recommended_listing ? fact(rent ? 'Рекомендуемая ставка в объявлении' : 'Рекомендуемая цена в объявлении', cash(range.recommended_listing)) : null,
          range.minimum_acceptable ? fact('Не ниже при торге', cash(range.minimum_acceptable)) : null,
          !rent && range.quick_sale_min ? fact('Быстрая продажа', cash(range.quick_sale_min)) : null,
        )
      : null,
    h('div', { class: 'downloads' },
      reportHref ? h('a', { class: 'btn', href: `${reportHref}${reportHref.includes('?') ? '&' : '?'}download`, download: `housler-report-${r.report_id || 'otchet'}.html` }, 'Скачать отчёт (HTML)') : null,
      mdHref ? h('a', { class: 'btn', href: mdHref, download: `housler-report-${r.report_id || 'otchet'}.md` }, 'Скачать отчёт (Markdown)') : null,
      reportHref ? h('a', { class: 'btn', id: 'pdf-link', href: `/api/reports/${encodeURIComponent(r.report_id)}?format=pdf&download`, download: `housler-report-${r.report_id || 'otchet'}.pdf` }, 'Скачать PDF') : null,
      reportHref ? h('a', { class: 'btn btn--ghost', href: reportHref, target: '_blank', rel: 'noopener' }, 'Открыть в новой вкладке ↗') : null,
    ),
    r.report_id ? renderShare(r) : null,
    reportHref ? h('iframe', { class: 'report-frame', src: reportHref, title: 'Полный отчёт с графиком цен за м²', sandbox: 'allow-same-origin', onload: fitFrame }) : null,
  )
}

/** Grows the report frame to its content so the chart is never cut off (no scripts run inside it). */
function fitFrame(e) {
  try {
    const doc = e.target.contentDocument
    if (doc?.documentElement) e.target.style.height = `${doc.documentElement.scrollHeight + 4}px`
  } catch {}
}

// ------------------------------------------------------------------ step 4: PDF and a share link

function renderShare(r) {
  const out = h('div', { class: 'share', id: 'share-result', 'aria-live': 'polite' })
  const button = h('button', { type: 'button', class: 'btn', id: 'share', onclick: () => shareReport(r, out, button) }, 'Поделиться ссылкой')
  return h('div', { class: 'downloads' }, button, out)
}

async function shareReport(r, out, button) {
  button.disabled = true
  try {
    const share = await api(`/api/reports/${encodeURIComponent(r.report_id)}/share`, {})
    const until = new Date(share.expires_at).toLocaleDateString('ru-RU', { day: 'numeric', month: 'long', year: 'numeric' })
    const field = h('input', { type: 'text', readonly: true, value: share.url, id: 'share-url', 'aria-label': 'Ссылка на отчёт', onfocus: (e) => e.target.select() })
    const revoke = h('button', { type: 'button', class: 'btn btn--ghost', onclick: async () => {
      await fetch(`/api/reports/${encodeURIComponent(r.report_id)}/share/${encodeURIComponent(share.share_id)}`, { method: 'DELETE' })
      out.replaceChildren(h('p', {}, 'Ссылка отозвана: по ней отчёт больше не открывается.'))
      button.disabled = false
    } }, 'Отозвать ссылку')
    out.replaceChildren(field, h('p', { class: 'muted' }, `Только просмотр, без доступа к вашей сессии. Действует до ${until}.`), revoke)
  } catch (e) {
    out.replaceChildren(h('p', { class: 'field-error' }, humanize(e).text))
    button.disabled = false
  }
}

// ------------------------------------------------------------------ resume

async function resume() {
  if (state.url) $('url').value = state.url
  const pending = state.job
  // Show where the user was right away, then reconcile with the server's session.
  go(Math.min(state.step || 1, maxStep() || 1), false)
  if (pending) {
    const action = { parse: submitUrl, similar: runSimilar, report: runReport, manual: () => resumeManual().catch((e) => showError(e, submitManual)) }[pending.kind]
    if (pending.kind === 'parse') go(1, false)
    if (pending.kind === 'similar') go(3, false)
    if (action) return action()
  }
  // A first visit has no session on the server yet: asking would only earn a 404.
  if (firstVisit && !state.url && !state.target) return
  try {
    const s = await api(`/api/sessions/${encodeURIComponent(state.sessionId)}`)
    let changed = false
    if (s.target && !state.target) { state.target = s.target; changed = true }
    if (s.target_url && !state.url) { state.url = s.target_url; $('url').value = s.target_url; changed = true }
    if (Array.isArray(s.comparables) && !state.comparables) { state.comparables = s.comparables; changed = true }
    if (s.report_id && !state.report) {
      let valuation = {}
      try {
        valuation = await api(`/api/reports/${encodeURIComponent(s.report_id)}?format=json`)
      } catch {}
      state.report = { report_id: s.report_id, report_url: `/api/reports/${s.report_id}`, markdown_url: `/api/reports/${s.report_id}?format=md`, valuation }
      changed = true
    }
    if (changed) {
      save()
      go(maxStep() >= 4 && state.report ? 4 : state.comparables ? 3 : state.target ? 2 : 1, false)
    }
  } catch {
    // Unknown session (404) or the service is down: the local copy is all we have, and enough.
  }
}

// ------------------------------------------------------------------ wiring

function init() {
  $('url-form').addEventListener('submit', (e) => { e.preventDefault(); submitUrl() })
  $('url').addEventListener('input', () => { $('url-error').textContent = ''; $('url').removeAttribute('aria-invalid') })
  $('overrides-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const o = readOverrides()
    if (!o) return
    const changed = JSON.stringify(o) !== JSON.stringify(state.overrides)
    state.overrides = o
    if (changed) state.report = null
    save()
    go(3)
  })
  $('overrides-form').addEventListener('change', () => {
    const o = readOverrides()
    if (o) { state.overrides = o; save() }
  })
  $('similar-form').addEventListener('submit', (e) => { e.preventDefault(); runSimilar() })
  $('manual-open').addEventListener('click', toggleManual)
  $('add-analog-form').addEventListener('submit', (e) => { e.preventDefault(); submitAnalog() })
  // A chosen page is sent once: the next «Добавить» is by URL again.
  $('add-analog-file').addEventListener('change', (e) => { const file = e.target.files?.[0]; e.target.value = ''; if (file) submitAnalog(file) })
  $('strategy').addEventListener('change', () => { $('strategy-help').textContent = STRATEGY_HELP[$('strategy').value]; state.strategy = $('strategy').value; save() })
  $('to-report').addEventListener('click', () => { state.report = null; save(); go(4); runReport() })
  $('report-rerun').addEventListener('click', runReport)
  $('alert-retry').addEventListener('click', () => { const a = retryAction; hideAlert(); a?.() })
  $('progress-cancel').addEventListener('click', cancelRunning)
  $('steps').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-goto]')
    if (b && !b.disabled) { hideAlert(); go(Number(b.dataset.goto)) }
  })
  $('restart').addEventListener('click', () => {
    stopPolling()
    hideBrowserIntake()
    hideAlert()
    hideProgress()
    state = blank()
    save()
    $('url').value = ''
    go(1)
    $('url').focus()
  })
  $('alert').setAttribute('tabindex', '-1')
  resume()
}

// Exposed for diagnostics and tests; the UI does not depend on it.
globalThis.housler = { get state() { return state }, checkUrl }
init()
