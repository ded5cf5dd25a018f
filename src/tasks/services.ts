import type { Config } from '../config.ts'
import type { Fetcher } from '../fetch/index.ts'
import type { AnalogQuery } from './find-similar/query.ts'
import type { Property } from './parse/property.ts'
import type { MarketHistory } from './report/scenarios.ts'

export type SessionRecord = {
  session_id: string
  target_url: string | null
  target: Property | null
  comparables: unknown[] | null
  report_id: string | null
  /** Analogs the user added by hand (parsed listings). */
  added_analogs: Property[]
  /** Analog URLs the user excluded. */
  excluded_urls: string[]
  updated_at: string
}

/** A child job to run for a parent: `ref` names what it is for (e.g. the analog's URL). */
export type ChildRequest = { kind: string; payload: unknown; ref: string }
export type ChildOutcome = {
  ref: string
  jobId: string | null
  status: 'finished' | 'failed' | 'canceled' | 'timeout'
  result?: unknown
  error?: string
}

/** The queue's capability to run child jobs of a running job (implemented in src/queue). */
export type ChildJobs = {
  /**
   * Enqueues `requests` as children of `parentJobId`, at most `concurrency` at a time, and waits
   * until each has ended, `waitSeconds` have passed (the rest are canceled: 'timeout') or `signal`
   * fires (all are canceled, and it throws). A child that fails an attempt is not retried.
   */
  run(
    parentJobId: string,
    sessionId: string | null,
    requests: readonly ChildRequest[],
    options: { concurrency: number; waitSeconds: number; signal: AbortSignal; onSettled?(done: number, total: number): void },
  ): Promise<ChildOutcome[]>
}

export type StoredReport = { id: string; job_id: string | null; session_id: string | null; valuation: unknown; html: string; markdown: string }

/** What task handlers may use. The composition roots build the real ones (src/store, src/fetch). */
export type TaskServices = {
  config: Config
  fetcher: Fetcher
  listings: {
    /** page: the properties come from their own listing pages (not search cards). */
    upsert(properties: readonly Property[], options?: { page?: boolean }): Promise<number>
    search(query: AnalogQuery, signal?: AbortSignal): Promise<Property[]>
    /** Listings whose own page was parsed within `hours`, by URL. */
    findPagesParsedSince(urls: readonly string[], hours: number): Promise<Property[]>
    /** When each listing was first and last seen, and its price changes. */
    history(urls: readonly string[]): Promise<MarketHistory[]>
  }
  sessions: {
    find(sessionId: string): Promise<SessionRecord | undefined>
    saveTarget(sessionId: string, url: string, target: Property): Promise<void>
    saveComparables(sessionId: string, comparables: readonly unknown[]): Promise<void>
    saveReport(sessionId: string, reportId: string): Promise<void>
    /** Adds (or replaces, by URL) an analog the user added by hand; it is no longer excluded. */
    addAnalog(sessionId: string, analog: Property): Promise<void>
    saveExcluded(sessionId: string, urls: readonly string[]): Promise<void>
  }
  reports: {
    save(report: StoredReport): Promise<void>
    find(id: string): Promise<StoredReport | undefined>
  }
  /** Present in workers (the queue adds it); absent in the synchronous fallback. */
  children?: ChildJobs
}
