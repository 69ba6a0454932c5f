// The few Prometheus HTTP API calls the preview needs. Queries are POSTed
// form-encoded so long expressions never hit URL length limits.

const TIMEOUT_MS = 30_000;

export class PrometheusError extends Error {}

export function prometheusClient(baseUrl, { timeoutMs = TIMEOUT_MS } = {}) {
  let base;
  try {
    base = new URL(baseUrl.endsWith('/') ? baseUrl : baseUrl + '/');
  } catch {
    throw new Error(`not a Prometheus URL: ${JSON.stringify(baseUrl)} (expected e.g. http://127.0.0.1:9090)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error(`not an http(s) Prometheus URL: ${baseUrl}`);
  }

  async function call(path, params, method = 'POST') {
    const url = new URL(path, base);
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      for (const item of Array.isArray(v) ? v : [v]) body.append(k, String(item));
    }
    let res;
    const init = { signal: AbortSignal.timeout(timeoutMs) };
    if (method === 'GET') {
      url.search = body.toString();
      res = await fetch(url, init);
    } else {
      res = await fetch(url, { ...init, method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PrometheusError(`${url.pathname}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (json.status !== 'success') {
      throw new PrometheusError(`${json.errorType ?? 'error'}: ${json.error ?? `HTTP ${res.status}`}`);
    }
    return { data: json.data, warnings: json.warnings ?? [] };
  }

  return {
    url: base.href,
    /** Instant query at timeMs. */
    query: (expr, timeMs) => call('api/v1/query', { query: expr, time: timeMs / 1000 }),
    /** Range query over [fromMs, toMs] at stepMs. */
    queryRange: (expr, fromMs, toMs, stepMs) =>
      call('api/v1/query_range', { query: expr, start: fromMs / 1000, end: toMs / 1000, step: stepMs / 1000 }),
    labelValues: async (label, matchers, fromMs, toMs) => {
      const params = { start: fromMs / 1000, end: toMs / 1000 };
      if (matchers.length) params['match[]'] = matchers;
      return (await call(`api/v1/label/${encodeURIComponent(label)}/values`, params, 'GET')).data;
    },
    series: async (matchers, fromMs, toMs) =>
      (await call('api/v1/series', { 'match[]': matchers, start: fromMs / 1000, end: toMs / 1000 })).data,
    /** The global scrape_interval text ("15s") of the server's loaded configuration, or undefined. */
    async scrapeInterval() {
      const { data } = await call('api/v1/status/config', {}, 'GET');
      const m = /^\s*scrape_interval:\s*(\S+)/m.exec(data.yaml ?? '');
      return m ? m[1] : undefined;
    },
  };
}
