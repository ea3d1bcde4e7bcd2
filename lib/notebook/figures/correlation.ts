// The ranking-correlation study's figure: per space, each candidate's supernet score against its stand-alone accuracy.
import type { PlotlyFigure } from '../display';
import type { CorrelationResult } from '../../experiments/correlation';
import { LEGEND_ON_TOP, PALETTE, titled } from './layout';

/**
 * One dot per candidate: x its val accuracy with the supernet's weights (the EA's fitness), y after training it
 * stand-alone; one colour per space, Kendall's tau in the legend. A supernet that ranks well puts the dots on a rising
 * line.
 */
export function correlationFigure(result: CorrelationResult, options: { title?: string } = {}): PlotlyFigure {
  const { layout: title, top } = titled(options.title, 1);
  return {
    data: result.spaces.map((s, i) => ({
      type: 'scatter',
      mode: 'markers',
      name: `${s.label} (tau ${s.kendall.estimate.toFixed(2)})`,
      x: s.candidates.map((c) => 100 * c.supernetScore),
      y: s.candidates.map((c) => 100 * c.valAccuracy),
      text: s.candidates.map(
        (c) => `${c.key}<br>${(c.flops / 1e6).toFixed(2)}M FLOPs, ${(c.params / 1e6).toFixed(3)}M params`,
      ),
      marker: { size: 9, color: PALETTE[i % PALETTE.length], line: { width: 1, color: '#333' } },
      hovertemplate: '%{text}<br>supernet %{x:.1f}%, stand-alone %{y:.1f}%<extra></extra>',
    })),
    layout: {
      ...title,
      width: 850,
      height: 480,
      margin: { t: top, r: 20, b: 55, l: 65 },
      legend: LEGEND_ON_TOP,
      xaxis: { title: { text: 'val accuracy with supernet weights (%)' } },
      yaxis: { title: { text: `val accuracy trained stand-alone, ${result.standalone.epochs} epochs (%)` } },
    },
  };
}
