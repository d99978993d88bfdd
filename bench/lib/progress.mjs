/**
 * Terminal progress: one line per phase. On a TTY the line's counts update in place; otherwise a
 * line is printed every 5 seconds and once at the end.
 */
const TTY = process.stdout.isTTY === true;

export function phase(label, total, read) {
  const started = Date.now();
  let lastPrint = 0;
  let final;
  const line = () => {
    const done = final ?? read();
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    const count = total === undefined ? `${done}` : `${done}/${total}`;
    return `${label}: ${count} (${rate}/s, ${seconds.toFixed(1)} s)`;
  };
  const timer = setInterval(() => {
    if (TTY) process.stdout.write(`\r${line()}\x1b[K`);
    else if (Date.now() - lastPrint >= 5_000) {
      lastPrint = Date.now();
      console.log(line());
    }
  }, 500);
  return {
    /** Prints the phase's last line; `done` replaces the last count read. */
    end(note = "", done = undefined) {
      final = done;
      clearInterval(timer);
      const text = `${line()}${note ? ` ${note}` : ""}`;
      if (TTY) process.stdout.write(`\r${text}\x1b[K\n`);
      else console.log(text);
    },
  };
}
