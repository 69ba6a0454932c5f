/**
 * Every panel of every shipped dashboard against a real Prometheus 2.42 that
 * scrapes two agents (versions 1.4 and 1.5) after they took the answer
 * workload; the answer panels must give the workload's known truth.
 */
import { defineDashboardsEndToEnd } from '../support/dashboard-e2e.js';

defineDashboardsEndToEnd('prometheus');
