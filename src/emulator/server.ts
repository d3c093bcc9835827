/**
 * The emulator's HTTP front: the Microsoft.DataBox ARM routes a customer-disk import uses
 * (api-version 2022-12-01 only, a non-empty Bearer token required, ARM error envelopes) and two
 * emulator-only admin routes under /_emulator/ (no api-version, no token: loopback only).
 * docs/emulator.md lists both.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Datacenter } from './datacenter';
import { applyUpdate, buildJob, cancel, checkDeletable, checkJobName, conflict, markShipped, validateInputs } from './jobs';
import { API_VERSION, ArmError, datacenterAddressResponse, findDatacenter, OPERATIONS, SKU, toJobResource, type CopyLogFormat, type StoredJob } from './model';
import type { StateStore } from './state';

export interface ServerContext {
  store: StateStore;
  datacenter: Datacenter;
  /** this server's own base URL (for nextLink) */
  armEndpoint(): string;
  /** the hosted accounts, with keys, for GET /_emulator/info */
  info(): Record<string, unknown>;
  /** the copy-log format new jobs get */
  copyLogFormat: CopyLogFormat;
}

const MAX_BODY = 1 << 20;
const P = 'providers/microsoft\\.databox';
const SUB = 'subscriptions/([^/]+)';
const RG = 'resourcegroups/([^/]+)';
const R = {
  operations: new RegExp(`^/${P}/operations$`, 'i'),
  subJobs: new RegExp(`^/${SUB}/${P}/jobs$`, 'i'),
  rgJobs: new RegExp(`^/${SUB}/${RG}/${P}/jobs$`, 'i'),
  job: new RegExp(`^/${SUB}/${RG}/${P}/jobs/([^/]+)$`, 'i'),
  action: new RegExp(`^/${SUB}/${RG}/${P}/jobs/([^/]+)/(markdevicesshipped|cancel|listcredentials)$`, 'i'),
  location: new RegExp(`^/${SUB}(?:/${RG})?/${P}/locations/([^/]+)/(validateinputs|regionconfiguration)$`, 'i'),
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
  const find = (sub: string, rg: string, name: string): StoredJob | undefined =>
    jobs().find((j) => same(j.subscriptionId, sub) && same(j.resourceGroup, rg) && same(j.name, name));
  const notFound = (rg: string, name: string) =>
    new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.DataBox/jobs/${name}' under resource group '${rg}' was not found.`);
  const wire = (j: StoredJob, expand: boolean) => {
    const r = toJobResource(j) as { properties: { details: Record<string, unknown> } };
    // jobStages come with $expand=details only, as the service documents for Jobs_Get.
    if (!expand) delete r.properties.details.jobStages;
    return r;
  };

  function list(url: URL, all: StoredJob[]): Record<string, unknown> {
    if (url.searchParams.has('$filter'))
      throw new ArmError(400, 'InvalidQueryParameterValue', 'The emulator does not evaluate $filter; list without it and filter on the client.', '$filter');
    const topRaw = url.searchParams.get('$top');
    let top = 100;
    if (topRaw !== null) {
      if (!/^\d+$/.test(topRaw) || Number(topRaw) < 1 || Number(topRaw) > 100)
        throw new ArmError(400, 'InvalidQueryParameterValue', `$top '${topRaw}' must be an integer from 1 to 100.`, '$top');
      top = Number(topRaw);
    }
    const skipRaw = url.searchParams.get('$skiptoken') ?? '0';
    if (!/^\d+$/.test(skipRaw)) throw new ArmError(400, 'InvalidQueryParameterValue', `$skiptoken '${skipRaw}' is not one this server issued.`, '$skiptoken');
    const skip = Number(skipRaw);
    const page = all.slice(skip, skip + top);
    const body: Record<string, unknown> = { value: page.map((j) => wire(j, false)) };
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
      if (!b || typeof b.job !== 'string' || typeof b.drive !== 'string')
        throw new ArmError(
          400,
          'InvalidRequestContent',
          'Expected {"job": "<job name>", "drive": "<directory, block device or image>", "resourceGroup"?: "...", "wait"?: true}.',
        );
      const matches = jobs().filter(
        (j) =>
          j.name === b.job &&
          (typeof b.resourceGroup !== 'string' || same(j.resourceGroup, b.resourceGroup)) &&
          (typeof b.subscriptionId !== 'string' || same(j.subscriptionId, b.subscriptionId)),
      );
      if (matches.length === 0) throw new ArmError(404, 'ResourceNotFound', `No import job named '${b.job}' exists in this emulator.`, 'job');
      if (matches.length > 1)
        throw new ArmError(
          409,
          'AmbiguousJobName',
          `Several jobs are named '${b.job}' (resource groups: ${matches.map((j) => j.resourceGroup).join(', ')}); pass resourceGroup.`,
          'job',
        );
      const accepted = await ctx.datacenter.deliver(matches[0]!, b.drive);
      if (b.wait === true) return send(res, 200, await accepted.done);
      accepted.done.catch(() => {});
      return send(res, 202, { job: accepted.job, serialNumber: accepted.serialNumber, status: 'AtAzureDC' });
    }
    if (url.pathname === '/_emulator/close') {
      method(req, 'POST');
      const b = (await readJson(req)) as { job?: unknown; resourceGroup?: unknown } | undefined;
      if (!b || typeof b.job !== 'string') throw new ArmError(400, 'InvalidRequestContent', 'Expected {"job": "<job name>", "resourceGroup"?: "..."}.');
      const matches = jobs().filter((j) => j.name === b.job && (typeof b.resourceGroup !== 'string' || same(j.resourceGroup, b.resourceGroup)));
      if (matches.length !== 1)
        throw new ArmError(
          matches.length ? 409 : 404,
          matches.length ? 'AmbiguousJobName' : 'ResourceNotFound',
          matches.length ? `Several jobs are named '${b.job}'; pass resourceGroup.` : `No import job named '${b.job}' exists in this emulator.`,
          'job',
        );
      await ctx.datacenter.closeJob(matches[0]!);
      return send(res, 200, wire(matches[0]!, true));
    }
    throw new ArmError(
      404,
      'NotFound',
      `No emulator route ${url.pathname}; the emulator-only routes are GET /_emulator/info, POST /_emulator/deliver and POST /_emulator/close.`,
    );
  }

  async function arm(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization;
    if (!auth) throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
    if (!/^Bearer\s+\S+/i.test(auth))
      throw new ArmError(401, 'InvalidAuthenticationToken', "The access token is invalid: the 'Authorization' header must be 'Bearer <token>'.");
    const v = url.searchParams.get('api-version');
    if (v === null) throw new ArmError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    if (v !== API_VERSION)
      throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${v}' is invalid. The supported versions are '${API_VERSION}'.`);
    const p = url.pathname.replace(/\/+$/, '');
    const now = new Date().toISOString();
    let m: RegExpExecArray | null;
    if (R.operations.test(p)) {
      method(req, 'GET');
      return send(res, 200, { value: OPERATIONS });
    }
    if ((m = R.subJobs.exec(p))) {
      method(req, 'GET');
      const sub = decodeURIComponent(m[1]!);
      return send(
        res,
        200,
        list(
          url,
          jobs().filter((j) => same(j.subscriptionId, sub)),
        ),
      );
    }
    if ((m = R.rgJobs.exec(p))) {
      method(req, 'GET');
      const [sub, rg] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      return send(
        res,
        200,
        list(
          url,
          jobs().filter((j) => same(j.subscriptionId, sub) && same(j.resourceGroup, rg)),
        ),
      );
    }
    if ((m = R.location.exec(p))) {
      method(req, 'POST');
      const sub = decodeURIComponent(m[1]!);
      const loc = decodeURIComponent(m[3]!);
      const body = await readJson(req);
      if (m[4]!.toLowerCase() === 'validateinputs') {
        const activeJobs = jobs().filter((j) => same(j.subscriptionId, sub) && !['Completed', 'CompletedWithErrors', 'Cancelled'].includes(j.status)).length;
        return send(res, 200, validateInputs(body, { location: loc, accounts: Object.keys(ctx.store.state.accounts), activeJobs }));
      }
      const b = (body ?? {}) as { datacenterAddressRequest?: { storageLocation?: unknown; skuName?: unknown } };
      const out: Record<string, unknown> = {};
      if (b.datacenterAddressRequest) {
        const storage = b.datacenterAddressRequest.storageLocation;
        if (typeof storage !== 'string' || storage === '')
          throw new ArmError(
            400,
            'MissingRequiredProperty',
            "The property 'datacenterAddressRequest.storageLocation' is required.",
            'datacenterAddressRequest.storageLocation',
          );
        if (b.datacenterAddressRequest.skuName !== SKU)
          throw new ArmError(
            400,
            'SkuNotSupported',
            `The sku '${String(b.datacenterAddressRequest.skuName)}' is not served by this emulator; it serves ${SKU}.`,
            'datacenterAddressRequest.skuName',
          );
        const dc = findDatacenter(storage);
        if (!dc)
          throw new ArmError(
            400,
            'LocationNotSupported',
            `No customer-disk datacenter serves '${storage}' in this emulator.`,
            'datacenterAddressRequest.storageLocation',
          );
        out.datacenterAddressResponse = datacenterAddressResponse(dc);
      }
      return send(res, 200, out);
    }
    if ((m = R.action.exec(p))) {
      method(req, 'POST');
      const [sub, rg, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)];
      const job = find(sub, rg, name);
      if (!job) throw notFound(rg, name);
      const action = m[4]!.toLowerCase();
      if (action === 'listcredentials') {
        const diskSecrets = job.disks.map((d) => ({ diskSerialNumber: d.serialNumber, bitLockerKey: d.bitLockerKey }));
        return send(res, 200, {
          value: [
            {
              jobName: job.name,
              jobSecrets: { jobSecretsType: SKU, diskSecrets, carrierAccountNumber: job.returnToCustomerPackageDetails.carrierAccountNumber },
            },
          ],
        });
      }
      const body = await readJson(req);
      if (action === 'markdevicesshipped') markShipped(job, body, now);
      else cancel(job, body, now);
      await ctx.store.save();
      return send(res, 204);
    }
    if ((m = R.job.exec(p))) {
      const verb = method(req, 'GET', 'PUT', 'PATCH', 'DELETE');
      const [sub, rg, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)];
      const job = find(sub, rg, name);
      if (verb === 'GET') {
        if (!job) throw notFound(rg, name);
        return send(res, 200, wire(job, (url.searchParams.get('$expand') ?? '').toLowerCase() === 'details'));
      }
      if (verb === 'PUT') {
        checkJobName(name);
        const body = await readJson(req);
        if (job) throw conflict(job);
        const built = buildJob(body, {
          subscriptionId: sub,
          resourceGroup: rg,
          name,
          accounts: Object.keys(ctx.store.state.accounts),
          now,
          copyLogFormat: ctx.copyLogFormat,
        });
        jobs().push(built);
        await ctx.store.save();
        return send(res, 201, wire(built, true));
      }
      if (!job) throw notFound(rg, name);
      if (verb === 'PATCH') {
        applyUpdate(job, await readJson(req), now);
        await ctx.store.save();
        return send(res, 200, wire(job, true));
      }
      checkDeletable(job);
      jobs().splice(jobs().indexOf(job), 1);
      await ctx.store.save();
      return send(res, 204);
    }
    if (/^\/subscriptions\/[^/]+(\/resourcegroups\/[^/]+)?\/providers\/microsoft\.databox\//i.test(p) || /^\/providers\/microsoft\.databox\//i.test(p)) {
      throw new ArmError(
        404,
        'InvalidResourceType',
        `The resource type in '${p}' is not one this emulator serves (jobs and their markDevicesShipped, cancel and listCredentials actions; locations/{location}/validateInputs and regionConfiguration; operations).`,
      );
    }
    throw new ArmError(
      404,
      'NoRegisteredProviderFound',
      `No registered resource provider found for the path '${p}'; this emulator serves only Microsoft.DataBox (the classic Microsoft.ImportExport API is retired).`,
    );
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
