// The training bar on a terminal: the epoch's and the run's elapsed and
// remaining time, within 80 columns whatever the figures.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { barLine, clock, Progress, type BarState } from '../../src/cli/progress.js';

const state: BarState = {
  epoch: 3, epochs: 100, done: 5, total: 10, ppl: 12.345, tokensPerSec: 1_834_567,
  epochSeconds: 0.9, epochBatches: 5, runSeconds: 5.2, runBatches: 25,
};

/** The bar lines a Progress draws on a fake 200-column terminal while `draw` runs (CI unset meanwhile). */
async function terminalLines(draw: (p: Progress) => void | Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const stream = Object.assign(new Writable({ write: (chunk, _enc, done) => { written.push(String(chunk)); done(); } }), {
    isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true,
  }) as unknown as NodeJS.WriteStream;
  const ci = process.env.CI;
  delete process.env.CI;
  try {
    const p = new Progress(3, 'text', stream);
    p.start();
    await draw(p);
    p.stop();
  } finally {
    if (ci !== undefined) process.env.CI = ci;
  }
  // eslint-disable-next-line no-control-regex
  return written.join('').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').split(/[\r\n]/).filter((l) => l.startsWith('epoch'));
}

describe('the bar', () => {
  it('shows the epoch, its batches, elapsed<remaining for the epoch and the run, perplexity and speed in 80 columns', () => {
    const line = barLine(state);
    // 5 of 10 batches in 0.9 s: 0.9 s left; 25 batches in 5.2 s, 975 left: 203 s.
    expect(line).toBe('epoch 3/100 |██████░░░░░░|  5/10 0:01<0:01  ppl 12.35  1.8M tok/s  run 0:05<3:23');
    expect(line.length).toBe(80);
  });

  it('never passes the width: the bar shrinks, then tokens/s, the perplexity and the bar go', () => {
    const huge: BarState = {
      ...state, epoch: 99_999, epochs: 100_000, done: 12_345, total: 99_999, ppl: 123_456, epochSeconds: 5000, epochBatches: 12_345,
      runSeconds: 400_000, runBatches: 1_000_000,
    };
    for (const s of [state, huge, { ...state, done: 0, epochBatches: 0, runBatches: 0 }]) {
      for (const width of [80, 60, 40, 20]) expect(barLine(s, width).length, `${width}: ${barLine(s, width)}`).toBeLessThanOrEqual(width);
    }
    expect(barLine(state, 60)).toBe('epoch 3/100 |████████░░░░░░░|  5/10 0:01<0:01  run 0:05<3:23');
    expect(barLine(huge)).toBe('epoch 99999/100000 |█░░░░░░| 12345/99999 1:23:20<9:51:42  run 111:06:40<20:51:01');
    // Before any batch of this process the remaining times are not known yet.
    expect(barLine({ ...state, done: 0, epochBatches: 0, runBatches: 0, epochSeconds: 0, runSeconds: 0 })).toContain(' 0/10 0:00<?     ppl');
  });

  it('writes times as m:ss, then h:mm:ss', () => {
    expect([0, 59.4, 61, 3599, 3600, 36_000 + 62, NaN, Infinity].map(clock)).toEqual(['0:00', '0:59', '1:01', '59:59', '1:00:00', '10:01:02', '?', '?']);
  });

  it('on a terminal, draws lines of at most 80 columns with both clocks', async () => {
    const lines = await terminalLines(async (p) => {
      for (let b = 1; b <= 4; b++) {
        await new Promise((r) => setTimeout(r, 120));
        p.batch(1, b, 4, 2.5, b * 1000);
      }
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(80);
      expect(l).toMatch(/^epoch 1\/3 \|[█░]+\| \d\/4 0:0\d<(0:0\d|\? {3}) {2}ppl 12\.18 {2}[ \d]{4} tok\/s {2}run 0:0\d<(0:0\d|\?)$/);
    }
  });

  it('shows the training thread\'s own rate when it sends its seconds: news read late is not timed from when it was read', async () => {
    // Before, news of a whole epoch of the book's run read just after the epoch line (a tenth of a
    // second of training, queued behind it) showed about 900M tok/s.
    const lines = await terminalLines((p) => p.batch(1, 4, 4, 2.5, 250_000, 4, 0.1));  // at once: 2.5M tokens/s by the thread's clock
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toContain('  2.5M tok/s  ');
  });
});
