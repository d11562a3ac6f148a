import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { currentRequestContext, type FetchHandler, type RequestContext } from '@mortar/core'
import type { FunnelStepResult, PageDwell, SeriesPoint, TopValue } from '../queries/index.js'
import { MAX_VALUE_CHARS } from '../queries/query-scope.js'
import { firstChars } from '../storage/storable-text.js'
import type { Recommendation } from '../recommendations/index.js'
import { localDay, nextStart, startOf } from '../time/zoned-time.js'
import { problem } from './collector.js'

/** What the dashboard page shows; the facade's typed options narrow the event names. */
export interface DashboardSpec {
  /**
   * Decides who may see the page, from the request context (the principal your auth set).
   * Required: without it, or when it returns false, the page answers 403.
   */
  readonly guard: (context: RequestContext) => boolean | Promise<boolean>
  readonly title?: string
  /** Events charted per day. */
  readonly series?: readonly string[]
  /** Top values of event properties. */
  readonly top?: readonly {
    readonly event: string
    readonly key: string
    readonly limit?: number
  }[]
  /** A funnel and its window. */
  readonly funnel?: {
    readonly steps: readonly { readonly event: string }[]
    readonly windowMs: number
  }
}

/** The answers the page needs, bound to the app's analytics. */
export interface DashboardSource {
  readonly now: () => number
  readonly timeZone: string
  series(event: string, from: Date, to: Date): Promise<SeriesPoint[]>
  top(event: string, key: string, from: Date, to: Date, limit: number): Promise<TopValue[]>
  funnel(
    steps: readonly { readonly event: string }[],
    from: Date,
    to: Date,
    windowMs: number,
  ): Promise<FunnelStepResult[]>
  uniques(from: Date, to: Date): Promise<number>
  dwell(from: Date, to: Date): Promise<PageDwell[]>
  alsoBought(item: string): Promise<Recommendation[]>
}

const DAY = 86_400_000
let chartJs: string | undefined

// Draws the charts from the page's JSON; the only inline script, allowed by its hash.
const CHARTS_SCRIPT = `(function(){var charts=JSON.parse(document.getElementById('mortar-charts').textContent);if(!window.Chart)return;charts.forEach(function(c){var el=document.getElementById(c.id);if(!el)return;el.dataset.rendered='true';new Chart(el,{type:'line',data:{labels:c.labels,datasets:[{label:c.label,data:c.data,tension:0.2,fill:true}]},options:{animation:false,plugins:{legend:{display:false}},scales:{y:{beginAtZero:true,ticks:{precision:0}}}}})})})()`

/**
 * What the page may load and run: Chart.js from this handler and the one inline script, nothing
 * else. A value that ever reached the page unescaped (an event name, a search, an item) could
 * not run a script, send what the page shows elsewhere, or put the page in another site's frame.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${createHash('sha256').update(CHARTS_SCRIPT).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ')

/** Chart.js's UMD build, read once from the installed package: no front-end build needed. */
function chartScript(): string {
  if (chartJs === undefined) {
    const require = createRequire(import.meta.url)
    chartJs = readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8')
  }
  return chartJs
}

/**
 * The dashboard page: visitors, events per day (charted with Chart.js), top values, a funnel,
 * engaged time per page and "also bought" for an item typed in, over the last `days` days
 * (`?days=`, 1 to 90, default 7) in the module's time zone. `GET /` is the page, `GET
 * /chart.js` the chart library. Every request goes through `guard` first: no guard, no
 * request context or a false answer is a 403 problem (deny by default).
 */
export function dashboardHandler(source: DashboardSource, spec: DashboardSpec): FetchHandler {
  return async (request) => {
    const context = currentRequestContext()
    let allowed = false
    try {
      allowed =
        typeof spec.guard === 'function' &&
        context !== undefined &&
        (await spec.guard(context)) === true
    } catch {
      allowed = false
    }
    if (!allowed)
      return problem(403, 'Forbidden', 'The analytics dashboard is not open to this request.')
    const url = new URL(request.url)
    const path = url.pathname.replace(/\/+$/, '')
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return problem(405, 'Method not allowed', 'The dashboard only answers GET.')
    }
    if (path.endsWith('/chart.js')) {
      return new Response(chartScript(), {
        headers: {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'public, max-age=86400',
        },
      })
    }
    if (path !== '' && path !== '/') return problem(404, 'Not found', 'No such dashboard page.')
    const days = Math.min(
      90,
      Math.max(1, Math.floor(Number(url.searchParams.get('days') ?? 7)) || 7),
    )
    const item = firstChars(url.searchParams.get('item')?.trim() ?? '', MAX_VALUE_CHARS)
    const html = await renderPage(source, spec, days, item, mountBase(context, url.pathname))
    return new Response(html, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-frame-options': 'SAMEORIGIN',
      },
    })
  }
}

/** Where the page is mounted, from the original URL the request context holds. */
function mountBase(context: RequestContext | undefined, handlerPath: string): string {
  const full = context?.http?.url.split('?')[0]
  if (full === undefined) return ''
  const inner = handlerPath.replace(/\/+$/, '')
  const base = inner !== '' && full.endsWith(inner) ? full.slice(0, -inner.length) : full
  return base.replace(/\/+$/, '')
}

async function renderPage(
  source: DashboardSource,
  spec: DashboardSpec,
  days: number,
  item: string,
  base: string,
): Promise<string> {
  const now = source.now()
  const today = startOf('day', now, source.timeZone)
  const from = new Date(startOf('day', today - (days - 1) * DAY + DAY / 2, source.timeZone))
  const to = new Date(nextStart('day', today, source.timeZone))
  const [visitors, series, tops, funnel, dwell, bought] = await Promise.all([
    source.uniques(from, to),
    Promise.all(
      (spec.series ?? []).map(async (event) => ({
        event,
        points: await source.series(event, from, to),
      })),
    ),
    Promise.all(
      (spec.top ?? []).map(async (top) => ({
        ...top,
        values: await source.top(top.event, top.key, from, to, top.limit ?? 10),
      })),
    ),
    spec.funnel === undefined
      ? undefined
      : source.funnel(spec.funnel.steps, from, to, spec.funnel.windowMs),
    source.dwell(from, to),
    item === '' ? undefined : source.alsoBought(item),
  ])
  const charts = series.map(({ event, points }) => ({
    id: `series-${event}`,
    label: event,
    labels: points.map((p) => localDay(p.start.getTime(), source.timeZone)),
    data: points.map((p) => p.count),
  }))
  const sections: string[] = []
  sections.push(
    `<section><h2>Visitors</h2><p class="big" data-testid="visitors">${visitors}</p><p>${escapeHtml(localDay(from.getTime(), source.timeZone))} to ${escapeHtml(localDay(to.getTime() - 1, source.timeZone))} (${escapeHtml(source.timeZone)})</p></section>`,
  )
  for (const { event, points } of series) {
    const rows = points
      .map(
        (p) =>
          `<tr><td>${escapeHtml(localDay(p.start.getTime(), source.timeZone))}</td><td class="n">${p.count}</td></tr>`,
      )
      .join('')
    const total = points.reduce((sum, p) => sum + p.count, 0)
    sections.push(
      `<section data-testid="series-${escapeHtml(event)}"><h2>${escapeHtml(event)} per day</h2><p>Total <b data-testid="series-total-${escapeHtml(event)}">${total}</b></p><canvas id="series-${escapeHtml(event)}" height="90"></canvas><details><summary>Numbers</summary><table><tr><th>Day</th><th>Events</th></tr>${rows}</table></details></section>`,
    )
  }
  for (const top of tops) {
    const rows = top.values
      .map((v) => `<tr><td>${escapeHtml(v.value)}</td><td class="n">${v.count}</td></tr>`)
      .join('')
    sections.push(
      `<section data-testid="top-${escapeHtml(top.event)}-${escapeHtml(top.key)}"><h2>Top ${escapeHtml(top.key)} of ${escapeHtml(top.event)}</h2><table><tr><th>${escapeHtml(top.key)}</th><th>Count</th></tr>${rows || '<tr><td colspan="2">Nothing yet</td></tr>'}</table></section>`,
    )
  }
  if (funnel !== undefined) {
    const rows = funnel
      .map(
        (s, i) =>
          `<tr><td>${i + 1}. ${escapeHtml(s.event)}</td><td class="n">${s.count}</td><td class="n">${(s.conversion * 100).toFixed(1)}%</td></tr>`,
      )
      .join('')
    sections.push(
      `<section data-testid="funnel"><h2>Funnel</h2><table><tr><th>Step</th><th>People</th><th>Conversion</th></tr>${rows}</table></section>`,
    )
  }
  const dwellRows = dwell
    .map(
      (d) =>
        `<tr><td>${escapeHtml(d.path)}</td><td class="n">${d.views}</td><td class="n">${(d.averageMs / 1000).toFixed(1)} s</td></tr>`,
    )
    .join('')
  sections.push(
    `<section data-testid="dwell"><h2>Engaged time per page</h2><table><tr><th>Path</th><th>Views</th><th>Average</th></tr>${dwellRows || '<tr><td colspan="3">Nothing yet</td></tr>'}</table></section>`,
  )
  const boughtRows = (bought ?? [])
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.item)}</td><td class="n">${r.together}</td><td class="n">${r.score.toFixed(3)}</td></tr>`,
    )
    .join('')
  sections.push(
    `<section data-testid="also-bought"><h2>Also bought</h2><form method="get"><input type="hidden" name="days" value="${days}"><input name="item" placeholder="Item id" value="${escapeHtml(item)}"> <button>Show</button></form>${
      bought === undefined
        ? ''
        : `<table><tr><th>Item</th><th>Bought together</th><th>Score</th></tr>${boughtRows || '<tr><td colspan="3">No item bought with it often enough</td></tr>'}</table>`
    }</section>`,
  )
  const title = escapeHtml(spec.title ?? 'Analytics')
  const ranges = [1, 7, 30, 90]
    .map((n) => (n === days ? `<b>${n} d</b>` : `<a href="?days=${n}">${n} d</a>`))
    .join(' · ')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title><style>
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem;color:#222}
section{border:1px solid #ddd;border-radius:8px;padding:.5rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.2rem .4rem;text-align:left}
.n{text-align:right;font-variant-numeric:tabular-nums}.big{font-size:2rem;margin:.2rem 0}
</style></head><body><h1>${title}</h1><nav>${ranges}</nav>${sections.join('')}
<script src="${escapeHtml(base)}/chart.js"></script>
<script type="application/json" id="mortar-charts">${json(charts)}</script>
<script>${CHARTS_SCRIPT}</script>
</body></html>`
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** JSON safe inside a `<script>` element. */
function json(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}
