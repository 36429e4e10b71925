import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec as ChartSpec } from 'vega-lite';

/**
 * A Vega-Lite spec drawn as an SVG string, headless (no browser, no canvas): in a notebook,
 * `tslab.display.html(await chart(spec))` shows it and the executed notebook keeps it.
 */
export async function chart(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
