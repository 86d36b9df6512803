import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A line series of a chart. */
export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  dash?: number[];
}

/** A time chart (uPlot): x in seconds since the epoch, y in percent. Thresholds are drawn as dashed lines. */
export function TimeChart(props: { title: string; x: number[]; series: Series[]; height?: number; testid?: string }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!el.current) return;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--fg').trim() || '#222';
    const grid = css.getPropertyValue('--grid').trim() || '#ddd';
    const axis = { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } };
    plot.current = new uPlot(
      {
        title: props.title,
        width: el.current.clientWidth || 600,
        height: props.height ?? 220,
        scales: { y: { range: [0, 100] } },
        axes: [axis, { ...axis, values: (_u, ticks) => ticks.map((t) => `${t} %`) }],
        series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: true }))],
      },
      [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    const resize = () => el.current && plot.current?.setSize({ width: el.current.clientWidth, height: props.height ?? 220 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData([props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  }, [props.x, props.series]);
  return <div class="chart" ref={el} data-testid={props.testid} />;
}
