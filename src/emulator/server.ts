/**
 * The emulator's HTTP front: the Microsoft.ImportExport ARM routes (api-version 2021-01-01 only,
 * a non-empty Bearer token required, ARM error envelopes) and two emulator-only admin routes under
 * /_emulator/ (no api-version, no token: loopback only). docs/emulator.md lists both.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Datacenter } from './datacenter';
import { applyUpdate, buildJob, checkDeletable, checkJobName, checkReplaceable } from './jobs';
import { API_VERSION, ArmError, findLocation, LOCATIONS, OPERATIONS, toJobResponse, toLocationResponse, type StoredJob } from './model';
import type { StateStore } from './state';

export interface ServerContext {
  store: StateStore;
  datacenter: Datacenter;
  /** this server's own base URL (for nextLink) */
  armEndpoint(): string;
  /** the hosted accounts, with keys, for GET /_emulator/info */
  info(): Record<string, unknown>;
}

const MAX_BODY = 1 << 20;
const P = 'providers/microsoft\\.importexport';
const R = {
  operations: new RegExp(`^/${P}/operations$`, 'i'),
  locations: new RegExp(`^/${P}/locations$`, 'i'),
  location: new RegExp(`^/${P}/locations/([^/]+)$`, 'i'),
  subJobs: new RegExp(`^/subscriptions/([^/]+)/${P}/jobs$`, 'i'),
  rgJobs: new RegExp(`^/subscriptions/([^/]+)/resourcegroups/([^/]+)/${P}/jobs$`, 'i'),
  job: new RegExp(`^/subscriptions/([^/]+)/resourcegroups/([^/]+)/${P}/jobs/([^/]+)$`, 'i'),
  keys: new RegExp(`^/subscriptions/([^/]+)/resourcegroups/([^/]+)/${P}/jobs/([^/]+)/listbitlockerkeys$`, 'i'),
};

function send(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-ms-request-id': randomUUID() });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ArmError(413, 'RequestEntityTooLarge', `The request body exceeds ${MAX_BODY} bytes.`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ArmError(400, 'InvalidRequestContent', 'The request content is not valid JSON.');
  }
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function method(req: IncomingMessage, ...allowed: string[]): string {
  const m = req.method ?? 'GET';
  if (!allowed.includes(m)) throw new ArmError(405, 'MethodNotAllowed', `The requested resource does not support http method '${m}'.`);
  return m;
}

export function createHandler(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  const jobs = () => ctx.store.state.jobs;
  const find = (sub: string, rg: string, name: string): StoredJob | undefined => jobs().find((j) => same(j.subscriptionId, sub) && same(j.resourceGroup, rg) && j.name === name);
  const notFound = (rg: string, name: string) => new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.ImportExport/jobs/${name}' under resource group '${rg}' was not found.`);

  function list(url: URL, all: StoredJob[]): Record<string, unknown> {
    if (url.searchParams.has('$filter')) throw new ArmError(400, 'InvalidQueryParameterValue', 'The emulator does not evaluate $filter; list without it and filter on the client.', '$filter');
    const topRaw = url.searchParams.get('$top');
    let top = 100;
    if (topRaw !== null) {
      if (!/^\d+$/.test(topRaw) || Number(topRaw) < 1 || Number(topRaw) > 100) throw new ArmError(400, 'InvalidQueryParameterValue', `$top '${topRaw}' must be an integer from 1 to 100.`, '$top');
      top = Number(topRaw);
    }
    const skipRaw = url.searchParams.get('$skiptoken') ?? '0';
    if (!/^\d+$/.test(skipRaw)) throw new ArmError(400, 'InvalidQueryParameterValue', `$skiptoken '${skipRaw}' is not one this server issued.`, '$skiptoken');
    const skip = Number(skipRaw);
    const page = all.slice(skip, skip + top);
    const body: Record<string, unknown> = { value: page.map(toJobResponse) };
    if (skip + top < all.length) body.nextLink = `${ctx.armEndpoint()}${url.pathname}?api-version=${API_VERSION}&$top=${top}&$skiptoken=${skip + top}`;
    return body;
  }

  async function admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/_emulator/info') {
      method(req, 'GET');
      return send(res, 200, ctx.info());
    }
    if (url.pathname === '/_emulator/deliver') {
      method(req, 'POST');
      const b = (await readJson(req)) as { job?: unknown; drive?: unknown; resourceGroup?: unknown; subscriptionId?: unknown; wait?: unknown } | undefined;
      if (!b || typeof b.job !== 'string' || typeof b.drive !== 'string') throw new ArmError(400, 'InvalidRequestContent', 'Expected {"job": "<job name>", "drive": "<directory, block device or image>", "resourceGroup"?: "...", "wait"?: true}.');
      const matches = jobs().filter((j) => j.name === b.job && (typeof b.resourceGroup !== 'string' || same(j.resourceGroup, b.resourceGroup)) && (typeof b.subscriptionId !== 'string' || same(j.subscriptionId, b.subscriptionId)));
      if (matches.length === 0) throw new ArmError(404, 'ResourceNotFound', `No import job named '${b.job}' exists in this emulator.`, 'job');
      if (matches.length > 1) throw new ArmError(409, 'AmbiguousJobName', `Several jobs are named '${b.job}' (resource groups: ${matches.map((j) => j.resourceGroup).join(', ')}); pass resourceGroup.`, 'job');
      const accepted = await ctx.datacenter.deliver(matches[0]!, b.drive);
      if (b.wait === true) return send(res, 200, await accepted.done);
      accepted.done.catch(() => {});
      return send(res, 202, { job: accepted.job, driveId: accepted.driveId, driveState: 'Received' });
    }
    throw new ArmError(404, 'NotFound', `No emulator route ${url.pathname}; the emulator-only routes are GET /_emulator/info and POST /_emulator/deliver.`);
  }

  async function arm(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization;
    if (!auth) throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
    if (!/^Bearer\s+\S+/i.test(auth)) throw new ArmError(401, 'InvalidAuthenticationToken', "The access token is invalid: the 'Authorization' header must be 'Bearer <token>'.");
    const v = url.searchParams.get('api-version');
    if (v === null) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (v !== API_VERSION) throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${v}' is invalid. The supported versions are '${API_VERSION}'.`);
    const p = url.pathname.replace(/\/+$/, '');
    const now = new Date().toISOString();
    let m: RegExpExecArray | null;
    if (R.operations.test(p)) {
      method(req, 'GET');
      return send(res, 200, { value: OPERATIONS });
    }
    if (R.locations.test(p)) {
      method(req, 'GET');
      return send(res, 200, { value: LOCATIONS.map(toLocationResponse) });
    }
    if ((m = R.location.exec(p))) {
      method(req, 'GET');
      const name = decodeURIComponent(m[1]!);
      const l = findLocation(name);
      if (!l) throw new ArmError(404, 'ResourceNotFound', `The location '${name}' is not an Import/Export location.`);
      return send(res, 200, toLocationResponse(l));
    }
    if ((m = R.subJobs.exec(p))) {
      method(req, 'GET');
      const sub = decodeURIComponent(m[1]!);
      return send(res, 200, list(url, jobs().filter((j) => same(j.subscriptionId, sub))));
    }
    if ((m = R.rgJobs.exec(p))) {
      method(req, 'GET');
      const [sub, rg] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      return send(res, 200, list(url, jobs().filter((j) => same(j.subscriptionId, sub) && same(j.resourceGroup, rg))));
    }
    if ((m = R.keys.exec(p))) {
      method(req, 'POST');
      const [sub, rg, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)];
      const job = find(sub, rg, name);
      if (!job) throw notFound(rg, name);
      return send(res, 200, { value: job.properties.driveList.map((d) => (d.bitLockerKey === undefined ? { driveId: d.driveId } : { driveId: d.driveId, bitLockerKey: d.bitLockerKey })) });
    }
    if ((m = R.job.exec(p))) {
      const verb = method(req, 'GET', 'PUT', 'PATCH', 'DELETE');
      const [sub, rg, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)];
      const job = find(sub, rg, name);
      if (verb === 'GET') {
        if (!job) throw notFound(rg, name);
        return send(res, 200, toJobResponse(job));
      }
      if (verb === 'PUT') {
        checkJobName(name);
        const body = await readJson(req);
        if (job) checkReplaceable(job);
        const built = buildJob(body, { subscriptionId: job?.subscriptionId ?? sub, resourceGroup: job?.resourceGroup ?? rg, name, accounts: Object.keys(ctx.store.state.accounts), now }, job);
        if (job) Object.assign(job, built);
        else jobs().push(built);
        await ctx.store.save();
        return send(res, job ? 200 : 201, toJobResponse(job ?? built));
      }
      if (!job) throw notFound(rg, name);
      if (verb === 'PATCH') {
        applyUpdate(job, await readJson(req), now);
        await ctx.store.save();
        return send(res, 200, toJobResponse(job));
      }
      checkDeletable(job);
      jobs().splice(jobs().indexOf(job), 1);
      await ctx.store.save();
      return send(res, 200);
    }
    if (/^\/subscriptions\/[^/]+(\/resourcegroups\/[^/]+)?\/providers\/microsoft\.importexport\//i.test(p) || /^\/providers\/microsoft\.importexport\//i.test(p)) {
      throw new ArmError(404, 'InvalidResourceType', `The resource type in '${p}' is not one Microsoft.ImportExport serves (jobs, locations, operations).`);
    }
    throw new ArmError(404, 'NoRegisteredProviderFound', `No registered resource provider found for the path '${p}'; this emulator serves only Microsoft.ImportExport.`);
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const work = url.pathname.startsWith('/_emulator/') ? admin(req, res, url) : arm(req, res, url);
    work.catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof ArmError) return send(res, err.status, err.toBody());
      send(res, 500, { error: { code: 'InternalServerError', message: `The emulator failed: ${(err as Error)?.message ?? String(err)}` } });
    });
  };
}
