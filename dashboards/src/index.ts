/**
 * The dashboards Tally ships, each with the file it is written to under
 * dashboards/ by `npm run dashboards`.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { appOverviewDashboard } from './app-overview.js';
import { featureUsageDashboard } from './feature-usage.js';
import { tallyAgentDashboard } from './tally-agent.js';
import { versionCompareDashboard } from './version-compare.js';

export interface DashboardFile {
  /** File name under dashboards/. */
  file: string;
  build(): dashboard.Dashboard;
}

export const DASHBOARDS: DashboardFile[] = [
  { file: 'tally-agent.json', build: tallyAgentDashboard },
  { file: 'app-overview.json', build: appOverviewDashboard },
  { file: 'version-compare.json', build: versionCompareDashboard },
  { file: 'feature-usage.json', build: featureUsageDashboard },
];
