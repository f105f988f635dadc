// The workspace page's live charts (uPlot): CPU, memory, network and disk
// over the last 15 minutes, from `workspace.stats` with history.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { StatsSample } from "@nexus-dev/sdk/browser";
import { client } from "./api";
import { bytes, percent } from "./format";
import { theme } from "./theme";

/** Samples kept: 15 minutes at one a second, as the daemon holds them. */
const KEEP = 900;

type Chart = {
  title: string;
  series: { label: string; value: (s: StatsSample) => number; color: string }[];
  format: (v: number) => string;
};

const charts: Chart[] = [
  { title: "CPU", series: [{ label: "CPU", value: (s) => s.cpuPercent, color: "#4f46e5" }], format: percent },
  { title: "Memory", series: [{ label: "Memory", value: (s) => s.memoryBytes, color: "#0891b2" }], format: bytes },
  {
    title: "Network",
    series: [
      { label: "Received", value: (s) => s.networkRxPerSec, color: "#16a34a" },
      { label: "Sent", value: (s) => s.networkTxPerSec, color: "#ea580c" },
    ],
    format: (v) => `${bytes(Math.round(v))}/s`,
  },
  {
    title: "Disk",
    series: [
      { label: "Read", value: (s) => s.blockReadPerSec, color: "#9333ea" },
      { label: "Written", value: (s) => s.blockWritePerSec, color: "#db2777" },
    ],
    format: (v) => `${bytes(Math.round(v))}/s`,
  },
];

function Plot({ chart, samples, width }: { chart: Chart; samples: StatsSample[]; width: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = theme.value === "dark";
  useEffect(() => {
    const axis = dark ? "#cbd5e1" : "#334155";
    const grid = dark ? "#1e293b" : "#e2e8f0";
    const p = new uPlot(
      {
        width,
        height: 140,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max, chart.title === "CPU" ? 5 : 1024)] } },
        axes: [
          { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid } },
          { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid }, size: 80, values: (_u, vals) => vals.map(chart.format) },
        ],
        series: [{}, ...chart.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5 }))],
      },
      [[], ...chart.series.map(() => [])],
      box.current!,
    );
    plot.current = p;
    return () => {
      p.destroy();
      plot.current = null;
    };
  }, [dark, width]);
  useEffect(() => {
    plot.current?.setData([samples.map((s) => s.time / 1000), ...chart.series.map((c) => samples.map(c.value))]);
  }, [samples, dark, width]);
  const last = samples[samples.length - 1];
  return (
    <figure class="min-w-0">
      <figcaption class="mb-1 text-sm">
        <span class="font-medium">{chart.title}</span>{" "}
        <span class="muted tabular-nums" data-metric={chart.title.toLowerCase()}>
          {last ? chart.series.map((c) => `${chart.series.length > 1 ? c.label.toLowerCase() + " " : ""}${chart.format(c.value(last))}`).join(", ") : "–"}
        </span>
      </figcaption>
      <div ref={box} role="img" aria-label={`${chart.title} over the last 15 minutes`} />
    </figure>
  );
}

/** The charts of running workspace `workspace`. */
export function Charts({ workspace }: { workspace: string }) {
  const [samples, setSamples] = useState<StatsSample[]>([]);
  const [width, setWidth] = useState(300);
  const grid = useRef<HTMLDivElement>(null);
  const c = client.value;
  useEffect(() => {
    const el = grid.current!;
    const measure = () => {
      const cols = el.clientWidth >= 640 ? 2 : 1;
      setWidth(Math.max(200, Math.floor((el.clientWidth - (cols - 1) * 16) / cols)));
    };
    measure();
    const o = new ResizeObserver(measure);
    o.observe(el);
    return () => o.disconnect();
  }, []);
  useEffect(() => {
    if (!c) return;
    let live = true;
    let buffer: StatsSample[] = [];
    let dirty = false;
    const flush = setInterval(() => {
      if (dirty) setSamples(buffer.slice());
      dirty = false;
    }, 1000);
    void (async () => {
      try {
        const sub = await c.subscribe("workspace.stats", { workspace, history: true });
        for await (const s of sub) {
          if (!live) break;
          buffer.push(s);
          if (buffer.length > KEEP) buffer = buffer.slice(-KEEP);
          dirty = true;
        }
        void sub.close();
      } catch {
        // the workspace stopped
      }
    })();
    return () => {
      live = false;
      clearInterval(flush);
    };
  }, [c, workspace]);
  return (
    <div ref={grid} class="grid gap-4 sm:grid-cols-2" data-testid="charts" data-samples={samples.length}>
      {charts.map((chart) => (
        <Plot chart={chart} samples={samples} width={width} />
      ))}
    </div>
  );
}
