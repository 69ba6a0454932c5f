/**
 * The same proof as dashboards-prometheus.test.ts with the data pushed by the
 * agents' Prometheus remote-write sinks into a real VictoriaMetrics (which
 * scrapes only the agents' own metrics), the store users move to when one
 * Prometheus is not enough. Its increase() does not extrapolate, by design;
 * the harness allows for that (see BACKENDS in dashboard-e2e.ts).
 */
import { defineDashboardsEndToEnd } from '../support/dashboard-e2e.js';

defineDashboardsEndToEnd('victoriametrics');
