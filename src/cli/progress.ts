import cliProgress from 'cli-progress';

/** One bar per phase, with rate and ETA; quiet when stderr is not a terminal. */
export function createProgress() {
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  let started = 0;
  return {
    update(name: string, done: number, total: number) {
      if (name !== phase) {
        bar?.stop();
        phase = name;
        bar = new cliProgress.SingleBar(
          {
            format: `${name.padEnd(10)} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
            noTTYOutput: false,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: 0 });
        started = Date.now();
      }
      const elapsed = (Date.now() - started) / 1000;
      bar!.update(done, { rate: elapsed > 0 ? Math.round(done / elapsed) : 0 });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
