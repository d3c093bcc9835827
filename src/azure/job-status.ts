/**
 * The import job's statuses and each disk's copy status in plain words: which statuses wait for
 * shipping, which are final, and what every CopyStatus value @azure/arm-databox knows means and what
 * the user should do about it. Read by ship, status, complete and the CLI's job view.
 */
import type { CopyStatus } from '@azure/arm-databox';

/** Job statuses that wait for the disks' shipping details (markDevicesShipped). */
export const AWAITING_SHIPMENT = new Set(['DeviceOrdered', 'Created', 'AwaitingShipmentDetails', 'ReadyToReceiveAtAzureDC']);
/** Job statuses in which the shipping details may still be given or corrected. */
export const SHIPPABLE_STATUSES = new Set([...AWAITING_SHIPMENT, 'ShippedToAzureDC']);
/** Job statuses after which nothing more is copied. */
export const FINAL_STATUSES = new Set([
  'Completed',
  'CompletedWithErrors',
  'CompletedWithWarnings',
  'Cancelled',
  'Aborted',
  'Failed_IssueDetectedAtAzureDC',
  'Failed_IssueReportedAtCustomer',
  'PreparingToShipFromAzureDC',
  'ShippedToCustomer',
]);
/** Job statuses in which the disks have been copied (the data may be complete or partial). */
export const COPIED_STATUSES = new Set(['Completed', 'CompletedWithErrors', 'CompletedWithWarnings', 'PreparingToShipFromAzureDC', 'ShippedToCustomer']);
/** Disk copy statuses after which the disk's data is in the storage account (whole or in part). */
export const COPY_DONE = new Set<string>(['Completed', 'CompletedWithErrors']);

/** What a disk's copyStatus means, and what to do about it. */
export interface CopyStatusExplanation {
  meaning: string;
  action: string;
  /** the disk's data needs no further action */
  ok: boolean;
}

/** Every CopyStatus value @azure/arm-databox knows, in plain words. */
export const COPY_STATUS: Record<CopyStatus & string, CopyStatusExplanation> = {
  NotStarted: { ok: false, meaning: 'the datacenter has not started copying this disk', action: 'wait; run driveseed status --watch' },
  InProgress: { ok: false, meaning: 'the datacenter is copying this disk into the storage account', action: 'wait; run driveseed status --watch' },
  Completed: {
    ok: true,
    meaning: 'every file on the disk was copied and matched its manifest',
    action: 'nothing; run driveseed complete once every disk is done',
  },
  CompletedWithErrors: {
    ok: false,
    meaning: 'the disk was copied, but some files or blocks failed (listed in the error log)',
    action: 'run driveseed status to summarise the error log, then driveseed repair --staging … to upload what failed over the network',
  },
  Failed: {
    ok: false,
    meaning: 'the copy of this disk failed',
    action: 'read the error log (driveseed status) and the job error; contact Azure support with the job name if the log names no cause',
  },
  NotReturned: { ok: false, meaning: 'the disk was not returned to you', action: 'contact Azure support with the job name and the disk serial number' },
  HardwareError: {
    ok: false,
    meaning: 'the disk failed at the datacenter (hardware error)',
    action: 'prepare a new disk from the staging location (driveseed prep) and send it in a new job, or repair over the network',
  },
  DeviceFormatted: {
    ok: false,
    meaning: 'the disk was formatted (data erased) at the datacenter',
    action: 'nothing to copy from it; send the data again (a new job) or upload with driveseed repair',
  },
  DeviceMetadataModified: {
    ok: false,
    meaning: 'the metadata files the service reads on the disk were changed after preparation',
    action: 'prepare the disk again with driveseed prep --format and do not change its files afterwards',
  },
  StorageAccountNotAccessible: {
    ok: false,
    meaning: 'the datacenter could not write to the storage account (firewall, deleted account, or access keys disabled)',
    action: 'allow trusted Microsoft services through the account firewall and keep the account and its keys enabled; Azure support can restart the copy',
  },
  UnsupportedData: {
    ok: false,
    meaning: 'the disk holds data the service does not import (e.g. names or sizes outside blob limits)',
    action: 'read the error log; driveseed repair uploads what was skipped',
  },
  DriveNotReceived: {
    ok: false,
    meaning: 'the datacenter has not received this disk although the job expected it',
    action: 'check the tracking number with the carrier; if the disk was never sent, send it or cancel the job',
  },
  UnsupportedDrive: {
    ok: false,
    meaning: 'the datacenter cannot read this kind of disk (e.g. 4K-native sectors, a USB-only enclosure, or no NTFS first volume)',
    action: 'use a SATA HDD or SSD with 512-byte logical sectors, prepare it with driveseed prep, and send it in a new job',
  },
  OtherServiceError: { ok: false, meaning: 'the service failed for a reason of its own', action: 'contact Azure support with the job name' },
  OtherUserError: {
    ok: false,
    meaning: 'the service reports a problem with the disk or the job inputs',
    action: 'read the error log and the job error (driveseed status)',
  },
  DriveNotDetected: {
    ok: false,
    meaning: 'the datacenter could not detect the disk when connected',
    action: 'check the disk on a computer of yours; prepare a new disk and send it in a new job',
  },
  DriveCorrupted: {
    ok: false,
    meaning: "the disk's volume could not be read (damaged file system or BitLocker volume)",
    action: 'run driveseed verify on a copy if you still have one; otherwise prepare a new disk from the staging location',
  },
  MetadataFilesModifiedOrRemoved: {
    ok: false,
    meaning: 'the manifest on the disk is missing or does not match the manifest hash given in the job',
    action: 'do not change the disk after prep; driveseed verify shows the difference; prepare it again and create a new job',
  },
};

/** The explanation of a copyStatus, including values newer than this table. */
export function explainCopyStatus(status: string): CopyStatusExplanation {
  return (
    (COPY_STATUS as Record<string, CopyStatusExplanation>)[status] ?? {
      ok: false,
      meaning: `the service reports copy status ${status}`,
      action: 'read the error log (driveseed status) and the Azure portal',
    }
  );
}
