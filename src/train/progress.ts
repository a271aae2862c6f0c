// Training progress for fit(): a bar redrawn in place on a terminal, one line
// per epoch anywhere else. The terminal is found through globalThis (Deno,
// then Node's process), never by importing node: modules, so the browser and
// workerd bundles build and run unchanged.

/** Where fit() writes progress. With isTTY, it redraws one line with '\r'; otherwise it writes one line per epoch. */
export interface ProgressWriter {
  write(text: string): void;
  isTTY?: boolean;
  /** Terminal width; the bar is kept narrower so the line never wraps (default 80). */
  columns?: number;
}

/** Redraws per second at most: a faster bar costs terminal time and is unreadable. */
const MAX_REDRAWS_PER_SECOND = 10;

interface DenoLike {
  stdout?: { isTerminal?(): boolean; writeSync?(bytes: Uint8Array): number };
  consoleSize?(): { columns: number };
}

interface NodeLike {
  stdout?: { isTTY?: boolean; columns?: number; write?(text: string): unknown };
}

/** The process's terminal when stdout is one (Node or Deno), else console.log lines. */
export function defaultWriter(): ProgressWriter {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  try {
    const out = deno?.stdout;
    if (out?.isTerminal?.() && typeof out.writeSync === 'function') {
      const encoder = new TextEncoder();
      return {
        isTTY: true,
        get columns() {
          try {
            return deno!.consoleSize?.().columns || 80;
          } catch {
            return 80;
          }
        },
        write(text: string) {
          let bytes = encoder.encode(text);
          while (bytes.length > 0) bytes = bytes.subarray(out.writeSync!(bytes));
        },
      };
    }
  } catch {
    // A Deno without --allow-* rights or a stdout that is gone: fall through to console lines.
  }
  const stdout = (globalThis as { process?: NodeLike }).process?.stdout;
  if (stdout?.isTTY === true && typeof stdout.write === 'function') {
    return {
      isTTY: true,
      get columns() {
        return stdout.columns || 80;
      },
      write: (text: string) => void stdout.write!(text),
    };
  }
  return { isTTY: false, write: (text: string) => console.log(text.replace(/\n$/, '')) };
}

/** 75 s -> "1:15", 3725 s -> "1:02:05". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Draws the bar of one epoch at a time, throttled to MAX_REDRAWS_PER_SECOND. */
export class ProgressBar {
  private lastDraw = -Infinity;
  private drawnLength = 0;

  constructor(private readonly writer: ProgressWriter, private readonly epochs: number, private readonly now: () => number) {}

  get isTTY(): boolean {
    return this.writer.isTTY === true;
  }

  /** After a step: redraws when the last redraw is old enough, or at the epoch's first and last step. */
  step(epoch: number, step: number, steps: number, samplesPerSecond: number, loss: number, secondsLeft: number): void {
    if (!this.isTTY) return;
    const t = this.now();
    if (step !== 1 && step !== steps && t - this.lastDraw < 1000 / MAX_REDRAWS_PER_SECOND) return;
    this.lastDraw = t;
    // A pseudo-terminal may report 0 columns: assume 80 then.
    const reported = this.writer.columns ?? 0;
    const columns = (reported >= 20 ? reported : 80) - 1;
    const head = `epoch ${epoch}/${this.epochs} `;
    // Fixed-width fields keep the bar's width steady from frame to frame.
    const tail = ` ${String(step).padStart(String(steps).length)}/${steps}  ${String(Math.round(samplesPerSecond)).padStart(6)} samples/s  loss ${loss.toFixed(4).padStart(7)}  ETA ${formatDuration(secondsLeft).padStart(5)}`;
    const width = Math.max(0, Math.min(30, columns - head.length - tail.length - 2));
    let line = head;
    if (width >= 5) {
      const filled = steps > 0 ? Math.round((width * step) / steps) : width;
      line += `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (step === steps ? '=' : '>') : ''}${' '.repeat(width - filled)}]`;
    }
    this.redraw((line + tail).slice(0, columns));
  }

  /** The epoch's summary: replaces the bar on a terminal, one line elsewhere. */
  epochEnd(summary: string): void {
    if (this.isTTY) {
      this.redraw(summary);
      this.writer.write('\n');
      this.drawnLength = 0;
      this.lastDraw = -Infinity;
    } else {
      this.writer.write(summary + '\n');
    }
  }

  private redraw(line: string): void {
    this.writer.write('\r' + line + ' '.repeat(Math.max(0, this.drawnLength - line.length)));
    this.drawnLength = line.length;
  }
}
