/** `canopy fsck`: verify every object of the repository (as `ostree fsck`). */
import { objectTypeName } from '../objects/index';
import { fsck } from '../repo/index';
import { defineCommand } from './command';
import { ExitCode } from './exit-codes';

export const fsckCommand = defineCommand({
  name: 'fsck',
  summary: 'Check the repository for missing and corrupt objects',
  usage: '',
  description: 'Re-hashes every object, walks every complete commit, checks every ref. Problems are listed\n'
    + '(the whole report with --json) and the exit status is 4 when there is any.',
  options: {
    quiet: { type: 'boolean', short: 'q', help: 'Print only problems' },
  },
  operands: [0, 0],
}, async (ctx, { values }) => {
  const repo = ctx.openRepo();
  const progress = ctx.progress('fsck');
  let report;
  try {
    report = await fsck(repo, { onProgress: (p) => progress.update({ done: p.done, total: p.total, unit: `${p.phase} objects` }) });
  } finally {
    progress.finish();
  }
  const problems: string[] = [
    ...report.brokenRefs.map((r) => `broken ref ${r.ref} -> ${r.checksum}: ${r.why}`),
    ...report.corrupt.map((o) => `corrupt object ${o.path}: ${o.why}`),
    ...report.missing.map((o) => `missing object ${o.checksum}.${objectTypeName(o.type)} (referenced by ${o.referencedBy.map((r) => r.checksum).slice(0, 3).join(', ')})`),
    ...report.partialCommits.filter((p) => p.byFsck).map((p) => `commit ${p.checksum} was marked partial by an earlier fsck`),
  ];
  if (ctx.json) ctx.out.result(report, () => '');
  else {
    for (const p of problems) ctx.io.stderr.write(`${p}\n`);
    if (!values.quiet) {
      const partial = report.partialCommits.filter((p) => !p.byFsck).length;
      if (partial) ctx.out.text(`${partial} partial commits not verified`);
      if (report.ok) ctx.out.text(`object fsck of ${report.commits} commits (${report.objects} objects) completed successfully - no errors found.`);
    }
  }
  if (!report.ok) {
    if (!ctx.json) ctx.io.stderr.write(`canopy fsck: repository corruption: ${report.corrupt.length} corrupt, ${report.missing.length} missing objects, ${report.brokenRefs.length} broken refs\n`);
    return ExitCode.CORRUPT;
  }
});

