import { totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import type { Alert } from './admin-alert.js'

/**
 * The limits the process monitor checks on each sample; an alert is raised when a reading goes
 * over its limit and resolved once it is back under 90% of it (so a reading hovering at the
 * limit does not flap).
 */
export interface ProcessLimits {
  /** Bytes of V8 heap in use; 90% of V8's heap limit by default. */
  readonly heapUsedBytes?: number
  /** Resident set size in bytes; 90% of the memory the process may use (its cgroup's, else the machine's) by default. */
  readonly rssBytes?: number
  /** The longest event-loop delay seen between two samples, in ms; 1,000 by default. */
  readonly eventLoopDelayMs?: number
}

/** One sample of the process. */
export interface ProcessReading {
  readonly heapUsedBytes: number
  readonly rssBytes: number
  readonly eventLoopDelayMs: number
}

type Metric = keyof ProcessReading

/** What a monitor does with a change: raise or resolve through the alerts. */
export interface AlertSink {
  raise(alert: Alert): Promise<void>
  resolve(key: string, detail?: string): Promise<void>
}

const DELAY_RESOLUTION_MS = 50

const KEYS: Record<Metric, string> = {
  heapUsedBytes: 'process.heap',
  rssBytes: 'process.rss',
  eventLoopDelayMs: 'process.event_loop_delay',
}

/** Samples heap, RSS and event-loop delay and raises or resolves an alert on each crossing. */
export class ProcessMonitor {
  readonly #limits: Readonly<Record<Metric, number>>
  readonly #alerts: AlertSink
  readonly #read: () => ProcessReading
  readonly #over = new Set<Metric>()
  #delayTimer: NodeJS.Timeout | undefined
  #maxDelayMs = 0

  /** `read` replaces the process's own figures (tests); the default reads this process. */
  constructor(limits: ProcessLimits, alerts: AlertSink, read?: () => ProcessReading) {
    this.#limits = resolveLimits(limits)
    this.#alerts = alerts
    this.#read = read ?? (() => this.#readProcess())
  }

  /**
   * Starts measuring event-loop delay: a timer that notes how late it runs. (perf_hooks'
   * histogram loses a long delay when it is reset before its own timer catches up; this keeps
   * the delay until a sample reads it.) {@link stop} releases it.
   */
  start(): void {
    if (this.#delayTimer !== undefined) return
    let expected = performance.now() + DELAY_RESOLUTION_MS
    this.#delayTimer = setInterval(() => {
      const now = performance.now()
      this.#maxDelayMs = Math.max(this.#maxDelayMs, now - expected)
      expected = now + DELAY_RESOLUTION_MS
    }, DELAY_RESOLUTION_MS)
    this.#delayTimer.unref()
  }

  stop(): void {
    clearInterval(this.#delayTimer)
    this.#delayTimer = undefined
  }

  /** Takes a sample and raises or resolves what crossed its limit since the last one. */
  async check(): Promise<void> {
    const reading = this.#read()
    for (const metric of Object.keys(KEYS) as Metric[]) {
      const value = reading[metric]
      const limit = this.#limits[metric]
      if (!this.#over.has(metric) && value > limit) {
        this.#over.add(metric)
        await this.#alerts.raise(overAlert(metric, value, limit))
      } else if (this.#over.has(metric) && value < 0.9 * limit) {
        this.#over.delete(metric)
        await this.#alerts.resolve(
          KEYS[metric],
          `${LABELS[metric]} is back to ${format(metric, value)} (limit ${format(metric, limit)}).`,
        )
      }
    }
  }

  #readProcess(): ProcessReading {
    const memory = process.memoryUsage()
    const delayMs = this.#maxDelayMs
    this.#maxDelayMs = 0
    return { heapUsedBytes: memory.heapUsed, rssBytes: memory.rss, eventLoopDelayMs: delayMs }
  }
}

const LABELS: Record<Metric, string> = {
  heapUsedBytes: 'Heap in use',
  rssBytes: 'Resident memory',
  eventLoopDelayMs: 'Event-loop delay',
}

function overAlert(metric: Metric, value: number, limit: number): Alert {
  return {
    key: KEYS[metric],
    title: `${LABELS[metric]} over its limit: ${format(metric, value)}`,
    detail: `${LABELS[metric]}: ${format(metric, value)}; limit ${format(metric, limit)}.`,
    severity: metric === 'eventLoopDelayMs' ? 'warning' : 'critical',
  }
}

function format(metric: Metric, value: number): string {
  return metric === 'eventLoopDelayMs'
    ? `${Math.round(value)} ms`
    : `${(value / 1024 / 1024).toFixed(1)} MiB`
}

function resolveLimits(limits: ProcessLimits): Readonly<Record<Metric, number>> {
  // constrainedMemory() is the cgroup's limit in a container, 0 or a huge number without one.
  const constrained = process.constrainedMemory?.() ?? 0
  const memory = constrained > 0 && constrained < totalmem() ? constrained : totalmem()
  return {
    heapUsedBytes: limits.heapUsedBytes ?? 0.9 * getHeapStatistics().heap_size_limit,
    rssBytes: limits.rssBytes ?? 0.9 * memory,
    eventLoopDelayMs: limits.eventLoopDelayMs ?? 1_000,
  }
}
