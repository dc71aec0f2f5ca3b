/**
 * `canopy fleet status|rollback|command`: the fleet's picture from its
 * retained states and events, and signed remote commands with each
 * device's answer.
 */
import { CanopyError } from '../core/errors';
import { COMMAND_KINDS, isProtocolName, type CommandInput, type CommandKind, type CommandTarget } from '../channel/index';
import { FleetView, formatFleetRows, sendCommand, type CommandAnswer, type OperatorLink } from '../fleet/index';
import { intOption, splitKeyValue, usageError } from './cli-args';
import { defineCommand, type RunContext } from './command';
import { defineGroup } from './command-group';
import {
  BROKER_OPTIONS, JOURNAL_OPTIONS, KEY_OPTIONS, connectBroker, fleetName, journalPath, loadJournal, requireKeys, saveJournal,
} from './operator-options';

const status = defineCommand({
  name: 'fleet status',
  summary: 'Every device: online, running and pending release, wave, health, last rollback and refusal',
  usage: '',
  description: 'Reads the devices\' retained states (and, while watching, their events). Refused commands come\n'
    + 'from events, which the broker does not keep: the ones this machine saw are kept in the journal.\n'
    + 'With --watch the table is printed again whenever something changes (--json: one line per change).',
  options: {
    watch: { type: 'boolean', short: 'w', help: 'Keep watching until interrupted' },
    device: { type: 'string', multiple: true, value: 'ID', help: 'Only these devices' },
    ...BROKER_OPTIONS, ...JOURNAL_OPTIONS,
  },
  operands: [0, 0],
  repo: false,
}, async (ctx, { values }) => {
  const fleet = fleetName(ctx, 'fleet status', values);
  const view = new FleetView();
  const journal = journalPath(ctx, fleet, values);
  loadJournal(ctx, view, fleet, journal);
  const only = values.device?.length ? new Set(values.device) : undefined;
  const rows = () => view.rows().filter((r) => !only || only.has(r.device));
  const link = await connectBroker(ctx, 'fleet status', values);
  try {
    let dirty = false;
    link.onState((s) => { dirty = view.applyState(s) || dirty; });
    link.onEvent((e) => { dirty = view.applyEvent(e) || dirty; });
    await link.watchFleet();
    if (!values.watch) {
      const r = rows();
      ctx.out.result(r, () => formatFleetRows(r));
      return;
    }
    const draw = (): void => {
      const r = rows();
      if (ctx.json) ctx.io.stdout.write(`${JSON.stringify({ time: new Date(ctx.io.now()).toISOString(), devices: r })}\n`);
      else {
        if (ctx.io.stdout.isTTY) ctx.io.stdout.write('\x1b[H\x1b[2J');
        ctx.io.stdout.write(`${new Date(ctx.io.now()).toISOString()}  fleet ${fleet}\n${formatFleetRows(r)}\n\n`);
      }
    };
    draw();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (!dirty) return;
        dirty = false;
        draw();
        saveJournal(ctx, view, fleet, journal);
      }, 500);
      const stop = (): void => {
        clearInterval(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  } finally {
    saveJournal(ctx, view, fleet, journal);
    await link.close();
  }
});

const TARGET_OPTIONS = {
  device: { type: 'string', value: 'ID', help: 'The device' },
  group: { type: 'string', value: 'TAG', help: 'Every device carrying this tag' },
  timeout: { type: 'string', value: 'SECONDS', help: 'How long to wait for answers (default 30)' },
  'wait-done': { type: 'boolean', help: 'Wait for done/failed, not just accepted' },
  ttl: { type: 'string', value: 'SECONDS', help: 'Command lifetime (default 3600, at most 7 days)' },
} as const;

/** Parses `KEY=VALUE` command arguments: numbers and booleans typed, the rest strings. */
export function commandArgs(words: readonly string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const w of words) {
    const [k, v] = splitKeyValue('fleet command', 'argument', w);
    out[k] = v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) && k !== 'commit' ? Number(v) : v;
  }
  return out;
}

function describe(a: CommandAnswer): string {
  return `${a.device}: ${a.status}${a.reason ? ` (${a.reason})` : ''}${a.message ? ` - ${a.message}` : ''}`;
}

async function runCommand(ctx: RunContext, command: string, options: object, kind: CommandKind, args: Record<string, unknown> | undefined): Promise<void> {
  const values = options as Record<string, unknown>;
  const device = values.device as string | undefined;
  const group = values.group as string | undefined;
  if ((device === undefined) === (group === undefined)) throw usageError(command, 'give either --device=ID or --group=TAG');
  const target: CommandTarget = device !== undefined ? { device } : { tag: group! };
  const name = device ?? group!;
  if (!isProtocolName(name)) throw usageError(command, `${JSON.stringify(name)} is not a valid device id or tag`);
  const fleet = fleetName(ctx, command, values);
  const keys = requireKeys(ctx, command, values);
  const timeout = intOption(command, 'timeout', values.timeout as string | undefined, 1) ?? 30;
  const ttl = intOption(command, 'ttl', values.ttl as string | undefined, 1);
  const view = new FleetView();
  const journal = journalPath(ctx, fleet, values);
  loadJournal(ctx, view, fleet, journal);
  const link: OperatorLink = await connectBroker(ctx, command, values);
  let result;
  try {
    link.onState((s) => view.applyState(s));
    await link.watchFleet({ events: false });
    const expect = device !== undefined ? [device] : view.states().filter((s) => s.tags?.includes(group!)).map((s) => s.device);
    if (device !== undefined && !view.states().some((s) => s.device === device)) ctx.out.warn(`device ${device} has never reported its state; sending anyway`);
    const input = { fleet, target, kind, ...(args !== undefined ? { args } : {}), ...(ttl !== undefined ? { ttlSeconds: ttl } : {}) } as CommandInput;
    result = await sendCommand({
      link, keys, command: input, expect, waitDone: Boolean(values['wait-done']), timeoutMs: timeout * 1000, view,
      onAnswer: (a) => ctx.out.text(describe(a)),
    });
  } finally {
    saveJournal(ctx, view, fleet, journal);
    await link.close();
  }
  const bad = result.answers.filter((a) => a.status === 'refused' || a.status === 'rejected' || a.status === 'failed');
  const silent = result.answers.filter((a) => a.status === 'no-answer');
  for (const a of silent) ctx.out.text(describe(a));
  const details = { nonce: result.command.nonce, answers: result.answers.map(describe) };
  if (bad.length) throw new CanopyError('ERR_COMMAND_REFUSED', `${kind}: ${bad.map(describe).join('; ')}`, details);
  if (silent.length) throw new CanopyError('ERR_TIMEOUT', `${kind}: no answer from ${silent.map((a) => a.device).join(', ')} within ${timeout} s`, details);
  if (result.answers.length === 0) throw new CanopyError('ERR_TIMEOUT', `${kind}: no device answered within ${timeout} s`, details);
  ctx.out.result({ nonce: result.command.nonce, kind, target, answers: result.answers }, () => '');
}

const rollback = defineCommand({
  name: 'fleet rollback',
  summary: 'Tell a device (or every device with a tag) to return to its previous deployment',
  usage: '',
  options: { ...TARGET_OPTIONS, reason: { type: 'string', value: 'TEXT', help: 'Why (the device records it)' }, ...KEY_OPTIONS, ...BROKER_OPTIONS, ...JOURNAL_OPTIONS },
  operands: [0, 0],
  repo: false,
}, (ctx, { values }) => runCommand(ctx, 'fleet rollback', values, 'rollback', values.reason ? { reason: values.reason } : undefined));

const command = defineCommand({
  name: 'fleet command',
  summary: 'Send a signed command (check-now, install, reboot, pin, unpin, report-inventory, set-log-level)',
  usage: 'KIND [KEY=VALUE…]',
  description: 'Arguments by kind: install commit=C ref=R version=V; reboot reason=T force=true; pin commit=C\n'
    + 'reason=T; unpin reason=T; set-log-level level=debug durationSeconds=600; rollback reason=T.\n'
    + 'Prints each device\'s answer: accepted, done, failed, refused by the agent (with its reason),\n'
    + 'or rejected by its message checks (unknown-key, expired, replayed, not-for-me, …).',
  options: { ...TARGET_OPTIONS, ...KEY_OPTIONS, ...BROKER_OPTIONS, ...JOURNAL_OPTIONS },
  operands: [1, 50],
  repo: false,
}, (ctx, { values, operands }) => {
  const kind = operands[0] as CommandKind;
  if (!COMMAND_KINDS.includes(kind)) throw usageError('fleet command', `unknown command kind ${JSON.stringify(operands[0])}; one of ${COMMAND_KINDS.join(', ')}`);
  const args = operands.length > 1 ? commandArgs(operands.slice(1)) : undefined;
  return runCommand(ctx, 'fleet command', values, kind, args);
});

export const fleetCommand = defineGroup('fleet', 'The fleet\'s state and signed remote commands', [status, rollback, command]);
