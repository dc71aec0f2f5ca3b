/**
 * The static server of bench/pull-bench.ts, in its own process so neither
 * client's CPU time includes it and both hit the same server. Prints its
 * URL on stdout; each line `stats` on stdin answers one JSON line
 * `{requests, bytes}` (since the previous `stats`) on stdout.
 *
 *   node --import tsx bench/serve-repo.ts REPO_DIR
 */
import { createInterface } from 'node:readline';
import { serveDirectory } from '../test/helpers/http-server';

async function main(): Promise<void> {
  const srv = await serveDirectory(process.argv[2]);
  process.stdout.write(`${srv.url}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    process.stdout.write(`${JSON.stringify({ requests: srv.log.length, bytes: srv.bytesSent() })}\n`);
    srv.resetLog();
  });
  rl.on('close', () => void srv.close().then(() => process.exit(0)));
}

void main();
