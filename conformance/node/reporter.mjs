// Prints one line per test case: `PASS <runtime> <file>: <name> (<ms> ms)` or `FAIL ...` with the
// error below it. conformance/run counts these lines.
import path from 'node:path';

const runtime = process.env.SOCKIO_RUNTIME || 'tokio';

export default async function* reporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // Suites (describe) report too; only leaf tests count.
    if (details?.type === 'suite') continue;
    const where = file ? `${path.basename(path.dirname(file))}/${path.basename(file)}` : '?';
    const ms = Math.round(details?.duration_ms ?? 0);
    const label = name;
    if (event.data.skip || event.data.todo) {
      // Every case must run: a skipped one counts as failed.
      yield `FAIL ${runtime} ${where}: ${label} (skipped)\n`;
    } else if (event.type === 'test:pass') {
      yield `PASS ${runtime} ${where}: ${label} (${ms} ms)\n`;
    } else {
      const err = details?.error;
      const cause = err?.cause ?? err;
      const msg = String(cause?.stack ?? cause?.message ?? cause).split('\n').slice(0, 12).join('\n    ');
      yield `FAIL ${runtime} ${where}: ${label} (${ms} ms)\n    ${msg}\n`;
    }
  }
}
