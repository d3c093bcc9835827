/**
 * How the import job reads on a terminal, shared by prep, job create, job get and status (no
 * command imports another command; they share this).
 */
import * as path from 'node:path';
import type { JobView } from '../azure/import-job';
import { explainCopyStatus } from '../azure/job-status';
import type { JobCreateResult } from '../core/job';
import { formatBytes } from '../base/format';

/** The job lines shared by prep and job create: name, status, the datacenter's address and return carriers. */
export function renderJob(j: JobCreateResult): string[] {
  const a = j.shipTo.address;
  const address = [
    a.contactPersonName,
    a.company,
    a.street1,
    a.street2,
    a.street3,
    [a.zip, a.city].filter(Boolean).join(' '),
    a.state,
    a.country,
    a.phone && `phone ${a.phone}${a.phoneExtension ? ` ext. ${a.phoneExtension}` : ''}`,
    a.additionalShippingInformation,
    a.instructions,
  ]
    .filter((x) => x)
    .map((x) => `    ${x}`);
  return [
    `import job ${j.job.name} ${j.existed ? 'already existed' : 'created'} in resource group ${j.job.resourceGroup} (${j.job.emulator ? `emulator ${j.job.emulator}` : 'Azure'}), status ${j.job.state}, ${j.disks.length} disk(s)`,
    `ship the disks to the datacenter for ${j.shipTo.location}:`,
    ...(address.length > 0 ? address : ['    (the service gave no address yet: see the job in the Azure portal)']),
    `carriers the datacenter returns disks with: ${j.shipTo.supportedCarriers.join(', ') || 'unknown'}`,
    `then, within 14 days: driveseed ship --staging ${path.dirname(j.settingsFile)} --carrier <name> --tracking <number>`,
  ];
}

/** The job as `job get` and `status` print it: status, stages, each disk with its copy status in words. */
export function renderJobView(v: JobView, resourceGroup: string): string[] {
  const lines = [`import job ${v.name} (${resourceGroup}): ${v.status}${v.error?.message ? ` — ${v.error.message}` : ''}`];
  const stages = v.stages.filter((s) => s.stageStatus && s.stageStatus !== 'None');
  if (stages.length > 0)
    lines.push(`  stages: ${stages.map((s) => `${s.displayName ?? s.stageName} ${s.stageStatus}${s.stageTime ? ` (${s.stageTime})` : ''}`).join(' → ')}`);
  if (v.deliverToDcPackage?.trackingId) lines.push(`  shipped with ${v.deliverToDcPackage.carrierName ?? '?'}, tracking ${v.deliverToDcPackage.trackingId}`);
  if (v.returnPackage?.trackingId) lines.push(`  returned with ${v.returnPackage.carrierName ?? '?'}, tracking ${v.returnPackage.trackingId}`);
  for (const d of v.disks) {
    const e = explainCopyStatus(d.copyStatus);
    const bytes = d.totalBytesToProcess > 0 ? ` ${d.percentComplete}% (${formatBytes(d.bytesProcessed)} of ${formatBytes(d.totalBytesToProcess)})` : '';
    lines.push(`  disk ${d.serialNumber}: ${d.copyStatus}${bytes}${d.filesErroredOut ? `, ${d.filesErroredOut} file(s) failed` : ''}`);
    if (d.copyStatus !== 'Completed') lines.push(`    ${e.meaning}; ${e.action}`);
  }
  return lines;
}
