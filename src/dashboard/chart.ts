/** A small live line chart (uPlot): times in seconds on x, one line per series. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html.js';

export interface Line {
  readonly label: string;
  readonly color: string;
}

export interface ChartProps {
  readonly title: string;
  readonly lines: readonly Line[];
  /** [times in seconds, then one array per line] */
  readonly data: readonly (readonly number[])[];
  readonly height?: number;
  readonly unit?: string;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.lines.map((l) => l.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 140,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
      axes: [{ stroke: '#667', grid: { stroke: '#eee' } }, { stroke: '#667', grid: { stroke: '#eee' }, size: 50 }],
      series: [{}, ...props.lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5, points: { show: false } }))],
    };
    plot.current = new uPlot(opts, props.data as uPlot.AlignedData, el);
    const resize = () => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 140 });
    addEventListener('resize', resize);
    return () => { removeEventListener('resize', resize); plot.current?.destroy(); plot.current = null; };
  }, [shape]);

  useEffect(() => { plot.current?.setData(props.data as uPlot.AlignedData); }, [props.data]);

  return html`<figure class="chart"><figcaption>${props.title}${props.unit ? html` <small>${props.unit}</small>` : ''}</figcaption><div ref=${box}></div></figure>`;
}
