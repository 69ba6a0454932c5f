/** Types for dashboards/preview/preview.mjs (the static HTML preview of the dashboards). */

export interface PreviewPanel {
  id?: number;
  /** The title as shown, variables replaced. */
  title: string;
  type: string;
  /** ok: data drawn; empty: the queries returned nothing; error: a query or the drawing failed; static: text. */
  status: 'ok' | 'empty' | 'error' | 'static';
  /** Finite samples the queries returned. */
  points: number;
  errors: string[];
  queries: Array<{ refId: string; expr: string; instant: boolean; stepMs?: number }>;
}

export interface PreviewDashboard {
  file: string;
  /** The written HTML page. */
  page: string;
  uid?: string;
  title: string;
  panels: PreviewPanel[];
  problems: string[];
  variables: string[];
  counts: { panels: number; ok: number; empty: number; error: number };
}

export interface PreviewResult {
  exitCode: number;
  out?: string;
  dashboards: PreviewDashboard[];
}

export declare const DEFAULT_OUT: string;
export declare function shippedDashboardFiles(): Promise<string[]>;
/** `preview URL [--out DIR] [--range 15m | --from T --to T] [--var name=value]... [--dashboard FILE]... [--strict]` */
export declare function main(argv?: string[]): Promise<PreviewResult>;
