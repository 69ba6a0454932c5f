// Runs in the preview page: draws every time series panel with uPlot from the
// data embedded next to it, then records on the panel how many points it drew
// (data-drawn-points), which the preview test reads.
/* global uPlot, formatValue */
(function () {
  // Text width as uPlot draws axis labels (its default axis font).
  const measure = document.createElement('canvas').getContext('2d');
  measure.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';

  function timeLabel(seconds, rangeMs) {
    const d = new Date(seconds * 1000);
    const two = (n) => String(n).padStart(2, '0');
    const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
    if (rangeMs > 2 * 86400000) return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
    return rangeMs > 3600000 ? hm : `${hm}:${two(d.getSeconds())}`;
  }

  function align(series) {
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = series.map((s) => {
      const y = new Array(xs.length).fill(null);
      for (const [t, v] of s.points) y[index.get(t)] = Number.isFinite(v) ? v : null;
      return y;
    });
    return [xs.map((x) => x / 1000), ...ys];
  }

  function draw(panel) {
    const body = panel.querySelector('.chart');
    const spec = JSON.parse(panel.querySelector('script.panel-data').textContent);
    if (spec.series.length === 0) {
      panel.dataset.drawnPoints = '0';
      return;
    }
    // The chart box is what the panel's grid cell leaves after title and legend (server-side HTML).
    const width = Math.max(200, body.clientWidth);
    const height = Math.max(80, body.clientHeight);
    const data = align(spec.series);
    const fmt = (v) => (v === null || v === undefined ? '—' : formatValue(v, spec.unit, spec.decimals));
    const opts = {
      width,
      height,
      scales: { x: { time: true, range: [spec.fromMs / 1000, spec.toMs / 1000] } },
      legend: { show: false },
      cursor: { points: { show: false } },
      axes: [
        // One line of local time per tick: uPlot's two-line date labels collide in narrow panels.
        { stroke: '#555', grid: { stroke: '#e5e5e5' }, values: (u, ticks) => ticks.map((t) => timeLabel(t, spec.toMs - spec.fromMs)) },
        {
          stroke: '#555',
          grid: { stroke: '#e5e5e5' },
          values: (u, ticks) => ticks.map(fmt),
          // Wide enough for the longest tick label ("1.25 K req/s"), so none is clipped.
          size: (u, values) => {
            if (!values || values.length === 0) return 60;
            const widest = Math.max(...values.map((v) => measure.measureText(String(v)).width));
            return Math.ceil(widest) + 24;
          },
        },
      ],
      series: [
        { label: 'Time' },
        ...spec.series.map((s) => ({
          label: s.name,
          // Markers only where a line would be too short to see.
          points: { show: s.points.filter((p) => Number.isFinite(p[1])).length < 10 },
          stroke: s.color,
          width: 1.5,
          spanGaps: false,
          value: (u, v) => fmt(v),
        })),
      ],
    };
    new uPlot(opts, data, body);
    let drawn = 0;
    for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v !== null) drawn++;
    panel.dataset.drawnPoints = String(drawn);
  }

  function drawAll() {
    for (const panel of document.querySelectorAll('.panel[data-kind="chart"]')) {
      try {
        draw(panel);
      } catch (err) {
        panel.dataset.drawError = String(err && err.message ? err.message : err);
        panel.dataset.drawnPoints = '0';
        const box = document.createElement('div');
        box.className = 'panel-error';
        box.textContent = 'drawing failed: ' + panel.dataset.drawError;
        panel.appendChild(box);
      }
    }
    document.body.dataset.rendered = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', drawAll);
  else drawAll();
})();
