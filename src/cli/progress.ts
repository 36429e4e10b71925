import cliProgress from 'cli-progress';

export interface ProgressFigures {
  done: number;
  total: number;
  /** Per second since the phase began. */
  rate: number;
  /** Time left at that rate, e.g. `42s`, `3m05s`, `1h12m`; `?` until there is a rate. */
  eta: string;
}

/**
 * What a bar shows after `done` of `total` in `elapsedMs`. A phase may start before it knows its
 * size (`0/1`, then the real total), so the latest total counts; one never below `done`.
 */
export function progressFigures(done: number, total: number, elapsedMs: number): ProgressFigures {
  const shownTotal = Math.max(total, done);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const left = shownTotal - done;
  return {
    done,
    total: shownTotal,
    rate: Math.round(rate),
    eta: left === 0 ? '0s' : rate > 0 ? formatSeconds(Math.ceil(left / rate)) : '?',
  };
}

function formatSeconds(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${pad(Math.floor((seconds % 3600) / 60))}m`;
}

/**
 * One bar per phase, with rate and ETA; quiet when `stream` (standard error) is not a terminal.
 * The ETA is ours (progressFigures): cli-progress's own prints `NFs` when its rate is 0.
 */
export function createProgress(stream: NodeJS.WritableStream = process.stderr) {
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  let started = 0;
  return {
    /** `detail` is shown after the bar, e.g. the loss of the last epoch. */
    update(name: string, done: number, total: number, detail = '') {
      if (name !== phase) {
        bar?.stop();
        phase = name;
        bar = new cliProgress.SingleBar(
          {
            format: `${name.padEnd(10)} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {left} {detail}`,
            stream,
            noTTYOutput: false,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: 0, left: '?', detail });
        started = Date.now();
      }
      const figures = progressFigures(done, total, Date.now() - started);
      bar!.setTotal(figures.total);
      bar!.update(done, { rate: figures.rate, left: figures.eta, detail });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
