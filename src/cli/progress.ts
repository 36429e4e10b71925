import cliProgress from 'cli-progress';

/** One bar per phase, with rate and ETA; quiet when stderr is not a terminal. */
export function createProgress() {
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
            format: `${name.padEnd(10)} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted} {detail}`,
            noTTYOutput: false,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: 0, detail });
        started = Date.now();
      }
      const elapsed = (Date.now() - started) / 1000;
      bar!.update(done, { rate: elapsed > 0 ? Math.round(done / elapsed) : 0, detail });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
