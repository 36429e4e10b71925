import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createProgress, progressFigures } from '../../../src/cli/progress.js';

/** A terminal that keeps what is drawn on it: the text after the last carriage return. */
function fakeTerminal() {
  let written = '';
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    }),
    { isTTY: true, columns: 200 },
  );
  const frames = () => stripVTControlCharacters(written).split(/[\r\n]/);
  return {
    stream,
    lastFrame: () =>
      frames()
        .filter((f) => f.trim())
        .at(-1) ?? '',
  };
}

describe('progress', () => {
  it('takes the latest total, never one below what is done', () => {
    expect(progressFigures(4096, 5000, 2000)).toEqual({
      done: 4096,
      total: 5000,
      rate: 2048,
      eta: '1s',
    });
    expect(progressFigures(4096, 1, 2000)).toMatchObject({ total: 4096, eta: '0s' });
  });

  it('gives a finite ETA, or `?` while nothing has moved', () => {
    expect(progressFigures(0, 5000, 0).eta).toBe('?');
    expect(progressFigures(0, 5000, 10_000).eta).toBe('?');
    expect(progressFigures(100, 5000, 1000).eta).toBe('49s');
    expect(progressFigures(100, 50_000, 1000).eta).toBe('8m19s');
    expect(progressFigures(1, 50_000, 1000).eta).toBe('13h53m');
  });

  it('shows the real total of a phase that started before it knew it', () => {
    const terminal = fakeTerminal();
    const progress = createProgress(terminal.stream);
    // What `tagwise suggest` reports: scoring begins at 0/1, then counts customers.
    progress.update('scoring', 0, 1);
    progress.update('scoring', 0, 5000);
    progress.update('scoring', 4096, 5000);
    progress.stop();
    const frame = terminal.lastFrame();
    expect(frame).toContain('| 4096/5000 |');
    expect(frame).toMatch(/ETA (\d+s|\d+m\d\ds|\?) /);
    expect(frame).not.toContain('NF');
  });
});
