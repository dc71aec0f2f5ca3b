/**
 * `canopy serve`: serve a repository over HTTP for a lab or a demo, until
 * interrupted. Production puts the same directory behind any web server or
 * CDN (README: "Running a fleet").
 */
import { serveDirectory } from '../fleet/index';
import { intOption } from './cli-args';
import { defineCommand } from './command';

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'Serve the repository over HTTP (Range, ETag, no listings) until interrupted',
  usage: '',
  description: 'Prints the URL, then one line per request with --verbose. Stops on SIGINT or SIGTERM.\n'
    + 'Devices need nothing but GET of static files: any web server or CDN serves a repository as well.',
  options: {
    port: { type: 'string', short: 'p', value: 'PORT', help: 'TCP port (default 0: any free port)' },
    bind: { type: 'string', value: 'ADDRESS', help: 'Address to listen on (default 127.0.0.1)' },
    verbose: { type: 'boolean', short: 'v', help: 'Log every request on stderr' },
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  const repo = ctx.openRepo();
  const port = intOption('serve', 'port', values.port, 0, 65535) ?? 0;
  const server = await serveDirectory({
    root: repo.path,
    host: values.bind ?? '127.0.0.1',
    port,
    onRequest: values.verbose ? (r) => ctx.io.stderr.write(`${r.method} ${r.path} ${r.status} ${r.bytes}\n`) : undefined,
  });
  ctx.out.result({ url: server.url, root: repo.path }, () => `serving ${repo.path} at ${server.url}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
});
