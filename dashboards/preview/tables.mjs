// Table panels: Prometheus results as Grafana's table frames (Time, one
// column per label, "Value" or "Value #<refId>"), then the panel's
// transformations, as far as the Tally dashboards use them.

/**
 * A frame is { refId, fields: string[], rows: Array<Record<string, string|number>>,
 * valueFields: Set<string> (numbers), timeFields: Set<string> (epoch ms, shown as dates) }.
 */
export function framesFromSeries(series, refIds) {
  const multi = refIds.length > 1;
  const frames = [];
  for (const refId of refIds) {
    const mine = series.filter((s) => s.refId === refId);
    const valueField = multi ? `Value #${refId}` : 'Value';
    const labelNames = [...new Set(mine.flatMap((s) => Object.keys(s.labels)))].sort();
    const rows = [];
    for (const s of mine) {
      for (const [t, v] of s.points) {
        const row = { Time: t };
        for (const l of labelNames) row[l] = s.labels[l] ?? '';
        row[valueField] = v;
        rows.push(row);
      }
    }
    frames.push({ refId, fields: ['Time', ...labelNames, valueField], rows, valueFields: new Set([valueField]), timeFields: new Set(['Time']) });
  }
  return frames;
}

function unionTimeFields(frames) {
  return new Set(frames.flatMap((f) => [...(f.timeFields ?? [])]));
}

function merge(frames) {
  if (frames.length <= 1) return frames;
  const fields = [];
  for (const f of frames) for (const name of f.fields) if (!fields.includes(name)) fields.push(name);
  const valueFields = new Set(frames.flatMap((f) => [...f.valueFields]));
  const rows = [];
  const byKey = new Map();
  for (const f of frames) {
    // Rows join on the fields this frame shares with the others that are not values.
    const keyFields = f.fields.filter((n) => !valueFields.has(n));
    for (const row of f.rows) {
      const key = JSON.stringify(keyFields.map((n) => [n, row[n]]));
      const existing = byKey.get(key);
      if (existing) Object.assign(existing, row);
      else {
        const copy = { ...row };
        rows.push(copy);
        byKey.set(key, copy);
      }
    }
  }
  return [{ refId: frames.map((f) => f.refId).join(','), fields, rows, valueFields, timeFields: unionTimeFields(frames) }];
}

function organize(frame, options) {
  const exclude = options.excludeByName ?? {};
  const index = options.indexByName ?? {};
  const rename = options.renameByName ?? {};
  let fields = frame.fields.filter((n) => !exclude[n]);
  if (Object.keys(index).length > 0) {
    fields = [...fields].sort((a, b) => (index[a] ?? 1e9) - (index[b] ?? 1e9));
  }
  const rows = frame.rows.map((row) => {
    const out = {};
    for (const n of fields) out[rename[n] || n] = row[n];
    return out;
  });
  const renamed = fields.map((n) => rename[n] || n);
  const valueFields = new Set(fields.filter((n) => frame.valueFields.has(n)).map((n) => rename[n] || n));
  const timeFields = new Set(fields.filter((n) => frame.timeFields?.has(n)).map((n) => rename[n] || n));
  return { ...frame, fields: renamed, rows, valueFields, timeFields, renamedFrom: { ...(frame.renamedFrom ?? {}), ...Object.fromEntries(fields.map((n) => [rename[n] || n, frame.renamedFrom?.[n] ?? n])) } };
}

function filterFieldsByName(frame, options) {
  const inc = options.include;
  const exc = options.exclude;
  const keep = (n) => {
    if (inc?.names && !inc.names.includes(n)) return false;
    if (inc?.pattern && !new RegExp(inc.pattern).test(n)) return false;
    if (exc?.names?.includes(n)) return false;
    if (exc?.pattern && new RegExp(exc.pattern).test(n)) return false;
    return true;
  };
  const fields = frame.fields.filter(keep);
  return { ...frame, fields, rows: frame.rows.map((r) => Object.fromEntries(fields.map((n) => [n, r[n]]))) };
}

function compare(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export function sortRows(frame, sorts) {
  const rows = [...frame.rows];
  for (const s of [...sorts].reverse()) {
    const name = s.field ?? s.displayName;
    rows.sort((x, y) => (s.desc ? -1 : 1) * compare(x[name], y[name]));
  }
  return { ...frame, rows };
}

const BINARY = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

function calculateField(frame, options) {
  const alias = options.alias;
  let compute;
  if (options.mode === 'binary') {
    const op = BINARY[options.binary?.operator];
    if (!op) throw new Error(`calculateField operator ${options.binary?.operator} is not one the preview knows`);
    const operand = (row, o) => (o !== undefined && Object.hasOwn(row, o) ? Number(row[o]) : Number(o));
    compute = (row) => op(operand(row, options.binary.left), operand(row, options.binary.right));
  } else if (options.mode === 'reduceRow' || options.mode === undefined) {
    const reducer = options.reduce?.reducer ?? 'sum';
    const names = options.reduce?.include ?? [...frame.valueFields];
    compute = (row) => {
      const vs = names.map((n) => Number(row[n])).filter(Number.isFinite);
      if (reducer === 'sum') return vs.reduce((a, b) => a + b, 0);
      if (reducer === 'mean') return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : NaN;
      if (reducer === 'max') return Math.max(...vs);
      if (reducer === 'min') return Math.min(...vs);
      throw new Error(`calculateField reducer ${reducer} is not one the preview knows`);
    };
  } else {
    throw new Error(`calculateField mode ${options.mode} is not one the preview knows`);
  }
  const name = alias || (options.mode === 'binary' ? `${options.binary.left} ${options.binary.operator} ${options.binary.right}` : 'Total');
  const rows = frame.rows.map((r) => ({ ...(options.replaceFields ? {} : r), [name]: compute(r) }));
  const fields = options.replaceFields ? [name] : [...frame.fields, name];
  return { ...frame, fields, rows, valueFields: new Set([...frame.valueFields, name]) };
}

function joinByField(frames, options) {
  const field = options.byField;
  if (!field) return merge(frames);
  const fields = [];
  for (const f of frames) for (const n of f.fields) if (!fields.includes(n)) fields.push(n);
  const byKey = new Map();
  for (const f of frames) for (const row of f.rows) {
    const k = row[field];
    byKey.set(k, { ...(byKey.get(k) ?? {}), ...row });
  }
  return [{ refId: 'joined', fields, rows: [...byKey.values()], valueFields: new Set(frames.flatMap((f) => [...f.valueFields])), timeFields: unionTimeFields(frames) }];
}

function convertValue(v, type) {
  if (v === undefined || v === null) return v;
  switch (type) {
    case 'string':
      return String(v);
    case 'number':
      return Number(v);
    case 'time':
      return typeof v === 'number' ? v : Date.parse(String(v));
    case 'boolean':
      return Boolean(v) && v !== 'false' && v !== '0';
    default:
      throw new Error(`convertFieldType to ${type} is not one the preview knows`);
  }
}

function convertFieldType(frame, options) {
  let rows = frame.rows;
  const valueFields = new Set(frame.valueFields);
  const timeFields = new Set(frame.timeFields ?? []);
  for (const c of options.conversions ?? []) {
    if (!c.targetField) continue;
    rows = rows.map((r) => (Object.hasOwn(r, c.targetField) ? { ...r, [c.targetField]: convertValue(r[c.targetField], c.destinationType) } : r));
    valueFields.delete(c.targetField);
    timeFields.delete(c.targetField);
    if (c.destinationType === 'number') valueFields.add(c.targetField);
    if (c.destinationType === 'time') timeFields.add(c.targetField);
  }
  return { ...frame, rows, valueFields, timeFields };
}

/**
 * Applies the panel's transformations. Returns `{ frames, notes }`, notes
 * naming anything the preview could not apply (shown on the panel).
 */
export function applyTransformations(frames, transformations = []) {
  let out = frames;
  const notes = [];
  for (const t of transformations) {
    if (!t || t.disabled) continue;
    const options = t.options ?? {};
    switch (t.id) {
      case 'merge':
        out = merge(out);
        break;
      case 'joinByField':
      case 'seriesToColumns':
        out = joinByField(out, options);
        break;
      case 'organize':
        out = out.map((f) => organize(f, options));
        break;
      case 'filterFieldsByName':
        out = out.map((f) => filterFieldsByName(f, options));
        break;
      case 'sortBy':
        out = out.map((f) => sortRows(f, options.sort ?? []));
        break;
      case 'calculateField':
        out = out.map((f) => calculateField(f, options));
        break;
      case 'limit':
        out = out.map((f) => ({ ...f, rows: f.rows.slice(0, options.limitField ?? 10) }));
        break;
      case 'convertFieldType':
        out = out.map((f) => convertFieldType(f, options));
        break;
      case 'labelsToFields':
        // Prometheus labels are already columns in these frames.
        break;
      default:
        notes.push(`transformation "${t.id}" is not applied by the preview`);
    }
  }
  return { frames: out, notes };
}
