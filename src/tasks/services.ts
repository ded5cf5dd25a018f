import type { Config } from '../config.ts'
import type { Fetcher } from '../fetch/index.ts'
import type { AnalogQuery } from './find-similar/query.ts'
import type { Property } from './parse/property.ts'

export type SessionRecord = {
  session_id: string
  target_url: string | null
  target: Property | null
  comparables: unknown[] | null
  report_id: string | null
  updated_at: string
}

export type StoredReport = { id: string; job_id: string | null; session_id: string | null; valuation: unknown; html: string; markdown: string }

/** What task handlers may use. The composition roots build the real ones (src/store, src/fetch). */
export type TaskServices = {
  config: Config
  fetcher: Fetcher
  listings: {
    upsert(properties: readonly Property[]): Promise<number>
    search(query: AnalogQuery, signal?: AbortSignal): Promise<Property[]>
  }
  sessions: {
    find(sessionId: string): Promise<SessionRecord | undefined>
    saveTarget(sessionId: string, url: string, target: Property): Promise<void>
    saveComparables(sessionId: string, comparables: readonly unknown[]): Promise<void>
    saveReport(sessionId: string, reportId: string): Promise<void>
  }
  reports: {
    save(report: StoredReport): Promise<void>
    find(id: string): Promise<StoredReport | undefined>
  }
}
