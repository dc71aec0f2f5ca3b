/**
 * Child process of undici-client.test.ts, run with `--allow-natives-syntax`:
 * makes a WebAssembly function hot, after one request through the undici
 * adapter or (with the argument `control`) without one, and prints the tier
 * V8 runs it in once a tier-up had time to happen: `turbofan` or `liftoff`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUndiciClient, readBody } from '../../../agent/src/transport/index';

/** `(func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add)` */
const WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x0b,
]);

// The compiler's library settings here leave out WebAssembly's types.
const wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: Record<string, unknown> } } }).WebAssembly;

// V8's test intrinsics, reachable only with --allow-natives-syntax (and only through a compiled function here).
const isTurboFan = new Function('f', 'return %IsTurboFanFunction(f)') as (f: unknown) => boolean;
const isLiftoff = new Function('f', 'return %IsLiftoffFunction(f)') as (f: unknown) => boolean;

async function oneRequest(): Promise<void> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = createUndiciClient();
  try {
    const res = await client.get({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x` });
    await readBody(res, 16, 'the test body');
  } finally {
    await client.close();
    server.close();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] !== 'control') await oneRequest();
  const f = new wasm.Instance(new wasm.Module(WASM)).exports.f as (x: number) => number;
  // Each round spends far more than V8's tiering budget; the pause lets a background compile finish.
  let x = 0;
  for (let round = 0; round < 25 && !isTurboFan(f); round++) {
    for (let i = 0; i < 1e6; i++) x = f(x);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.stdout.write(isTurboFan(f) ? 'turbofan' : isLiftoff(f) ? 'liftoff' : 'other');
}

void main();
