/**
 * The per-user records of import jobs (`$DRIVESEED_HOME`, default `~/.driveseed`): jobs.json, the
 * jobs created from this computer, so that `driveseed ship` without options (the old tool's `u:`)
 * finds the one waiting for its shipping details. ship keeps shipments.json beside it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../repo/atomic';

/** `$DRIVESEED_HOME`, else `~/.driveseed`: per-user records (jobs.json, shipments.json). */
export function driveseedHome(env: Record<string, string | undefined> = process.env): string {
  return env.DRIVESEED_HOME || path.join(os.homedir(), '.driveseed');
}

export interface KnownJob {
  name: string;
  subscription: string;
  resourceGroup: string;
  staging: string;
  createdAt: string;
}

/** Jobs created from this computer (`<home>/jobs.json`), newest last. */
export function knownJobs(env: Record<string, string | undefined> = process.env): KnownJob[] {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(driveseedHome(env), 'jobs.json'), 'utf8')) as { jobs?: KnownJob[] };
    return Array.isArray(doc.jobs) ? doc.jobs : [];
  } catch {
    return [];
  }
}

export function rememberJob(job: KnownJob, env: Record<string, string | undefined>): void {
  const home = driveseedHome(env);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const jobs = knownJobs(env).filter((j) => !(j.name === job.name && j.subscription === job.subscription && j.resourceGroup === job.resourceGroup));
  jobs.push(job);
  writeFileAtomic(path.join(home, 'jobs.json'), JSON.stringify({ version: 1, jobs }, null, 2) + '\n');
}
