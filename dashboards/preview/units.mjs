// Display of values in the units the Tally dashboards use, following
// Grafana's value formats closely enough that a preview reads like the panel
// would. This file has no imports: its source is also inlined into each
// preview page so that uPlot's axes use the same formatting as the server side.

/** A number with `decimals` places, or a sensible number of them when undefined. */
export function fixed(value, decimals) {
  if (!Number.isFinite(value)) return String(value);
  if (decimals !== undefined && decimals !== null) return value.toFixed(decimals);
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  let places;
  if (abs >= 100) places = 0;
  else if (abs >= 10) places = 1;
  else if (abs >= 1) places = 2;
  else places = Math.min(6, Math.max(2, 1 - Math.floor(Math.log10(abs)) + 1));
  // Trailing zeros add nothing to a preview.
  return String(Number(value.toFixed(places)));
}

function scaled(value, decimals, factor, suffixes) {
  let v = value;
  let i = 0;
  while (Math.abs(v) >= factor && i < suffixes.length - 1) {
    v /= factor;
    i++;
  }
  return fixed(v, decimals) + suffixes[i];
}

const SHORT = ['', ' K', ' Mil', ' Bil', ' Tri', ' Quadr', ' Quint', ' Sext', ' Sept'];
const IEC = [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB', ' EiB'];
const SI_BYTES = [' B', ' kB', ' MB', ' GB', ' TB', ' PB', ' EB'];

function seconds(value, decimals) {
  const abs = Math.abs(value);
  if (abs === 0) return '0 s';
  if (abs < 1e-6) return fixed(value * 1e9, decimals) + ' ns';
  if (abs < 1e-3) return fixed(value * 1e6, decimals) + ' µs';
  if (abs < 1) return fixed(value * 1e3, decimals) + ' ms';
  if (abs < 60) return fixed(value, decimals) + ' s';
  if (abs < 3600) return fixed(value / 60, decimals) + ' min';
  if (abs < 86400) return fixed(value / 3600, decimals) + ' hour';
  if (abs < 604800) return fixed(value / 86400, decimals) + ' day';
  if (abs < 31536000) return fixed(value / 604800, decimals) + ' week';
  return fixed(value / 31536000, decimals) + ' year';
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

/** Local wall-clock time of epoch milliseconds, as Grafana's dateTimeAsIso shows it. */
export function isoLocal(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** moment.js's fromNow wording (what Grafana's dateTimeFromNow uses). */
export function fromNow(ms, nowMs = Date.now()) {
  const diffS = (nowMs - ms) / 1000;
  const s = Math.abs(diffS);
  const n = (x) => Math.round(x);
  let text;
  if (s < 45) text = 'a few seconds';
  else if (s < 90) text = 'a minute';
  else if (s < 45 * 60) text = `${n(s / 60)} minutes`;
  else if (s < 90 * 60) text = 'an hour';
  else if (s < 22 * 3600) text = `${n(s / 3600)} hours`;
  else if (s < 36 * 3600) text = 'a day';
  else if (s < 26 * 86400) text = `${n(s / 86400)} days`;
  else if (s < 45 * 86400) text = 'a month';
  else if (s < 320 * 86400) text = `${n(s / (30 * 86400))} months`;
  else if (s < 548 * 86400) text = 'a year';
  else text = `${n(s / (365 * 86400))} years`;
  return diffS >= 0 ? `${text} ago` : `in ${text}`;
}

/** Seconds as "2 days, 3 hours" (Grafana's dtdurations keeps the two largest parts). */
function durationWords(value) {
  if (value === 0) return '0 seconds';
  const parts = [
    ['year', 31536000],
    ['month', 2592000],
    ['week', 604800],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  let rest = Math.abs(value);
  const out = [];
  for (const [name, size] of parts) {
    const k = Math.floor(rest / size);
    if (k >= 1 && out.length < 2) {
      out.push(`${k} ${name}${k === 1 ? '' : 's'}`);
      rest -= k * size;
    }
  }
  if (out.length === 0) return `${fixed(value * 1000)} milliseconds`;
  return (value < 0 ? '-' : '') + out.join(', ');
}

/**
 * A value as Grafana would display it with this unit. Date units take epoch
 * milliseconds, as in Grafana.
 */
export function formatValue(value, unit, decimals, nowMs) {
  if (value === null || value === undefined) return 'No data';
  if (typeof value !== 'number') return String(value);
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  switch (unit ?? 'short') {
    case '':
    case 'none':
      return fixed(value, decimals);
    case 'short':
      return scaled(value, decimals, 1000, SHORT);
    case 's':
      return seconds(value, decimals);
    case 'ms':
      return seconds(value / 1e3, decimals);
    case 'µs':
    case 'us':
      return seconds(value / 1e6, decimals);
    case 'ns':
      return seconds(value / 1e9, decimals);
    case 'm':
      return seconds(value * 60, decimals);
    case 'bytes':
      return scaled(value, decimals, 1024, IEC);
    case 'decbytes':
      return scaled(value, decimals, 1000, SI_BYTES);
    case 'Bps':
    case 'binBps':
      return scaled(value, decimals, 1024, IEC) + '/s';
    case 'percent':
      return fixed(value, decimals) + '%';
    case 'percentunit':
      return fixed(value * 100, decimals) + '%';
    case 'reqps':
    case 'rps':
      return scaled(value, decimals, 1000, SHORT) + ' req/s';
    case 'ops':
      return scaled(value, decimals, 1000, SHORT) + ' ops/s';
    case 'cps':
      return scaled(value, decimals, 1000, SHORT) + ' c/s';
    case 'pps':
      return scaled(value, decimals, 1000, SHORT) + ' p/s';
    case 'opm':
      return scaled(value, decimals, 1000, SHORT) + ' ops/min';
    case 'rpm':
      return scaled(value, decimals, 1000, SHORT) + ' req/min';
    case 'cpm':
      return scaled(value, decimals, 1000, SHORT) + ' c/min';
    case 'wps':
      return scaled(value, decimals, 1000, SHORT) + ' wps';
    case 'iops':
      return scaled(value, decimals, 1000, SHORT) + ' io/s';
    case 'hertz':
      return scaled(value, decimals, 1000, [' Hz', ' kHz', ' MHz', ' GHz']);
    case 'dateTimeFromNow':
      return fromNow(value, nowMs);
    case 'dateTimeAsIso':
    case 'dateTimeAsIsoNoDateIfToday':
    case 'dateTimeAsSystem':
    case 'dateTimeAsUS':
    case 'dateTimeAsLocal':
      return isoLocal(value);
    case 'dtdurations':
      return durationWords(value);
    case 'dtdurationms':
      return durationWords(value / 1000);
    case 'x':
      return fixed(value, decimals) + 'x';
    default:
      if (unit.startsWith('suffix:')) return fixed(value, decimals) + unit.slice(7);
      if (unit.startsWith('prefix:')) return unit.slice(7) + fixed(value, decimals);
      // Grafana treats an unknown unit as a custom suffix.
      return fixed(value, decimals) + ' ' + unit;
  }
}
