/**
 * What a user gives for an import job besides the staging settings: the subscription from a classic
 * `.publishsettings` file (the old tool's `p:` argument), and the contact, return address and return
 * carrier (`--return-address <json file>`, or asked one field at a time like the old tool did).
 * The file format (docs/prep.md "Return address file") is the one driveseed has always read; it
 * maps onto the Data Box job's contactDetails, shippingAddress and returnToCustomerPackageDetails
 * (src/azure/import-job.ts).
 */
import * as fs from 'node:fs';
import { usageError } from '../base/errors';
import { askOrFail, type CommandContext } from './command';
import { validateSubscription } from './settings';

/** The contact and return address (* = required by the service) (* = required by the service). */
export interface ReturnAddress {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  email: string;
}

/** The carrier and account the datacenter ships the drives back with (the job's returnToCustomerPackageDetails). */
export interface ReturnShipping {
  carrierName: string;
  carrierAccountNumber: string;
}

/** What `--return-address <json file>` holds (docs/prep.md "Return address file"). */
export interface ReturnInfo {
  returnAddress: ReturnAddress;
  returnShipping: ReturnShipping;
}

/**
 * Reads the subscription id(s) from a classic `.publishsettings` file (`<PublishData><PublishProfile>
 * <Subscription Id="…" Name="…" ManagementCertificate="…"/>`). The management certificate is for the
 * retired Service Management API and cannot authenticate against ARM: it is never read into memory
 * beyond this parse and never used (credentials come from DefaultAzureCredential).
 * Throws PUBLISH_SETTINGS_INVALID naming the file.
 */
export function parsePublishSettings(file: string): { subscriptionId: string; subscriptionName?: string; subscriptions: number } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(
      'PUBLISH_SETTINGS_UNREADABLE',
      `--publish-settings ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); give the .publishsettings file downloaded for the subscription`,
      { field: 'publishSettings', file },
    );
  }
  if (!/<PublishData[\s>]/.test(text)) {
    throw usageError('PUBLISH_SETTINGS_INVALID', `--publish-settings ${file} is not a .publishsettings file (no <PublishData> element)`, {
      field: 'publishSettings',
      file,
    });
  }
  const subs = [...text.matchAll(/<Subscription\b([^>]*)\/?>/g)].map((m) => {
    const attr = (name: string) => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(m[1]!)?.[1];
    return { id: attr('Id'), name: attr('Name') };
  });
  const first = subs.find((s) => s.id);
  if (!first?.id)
    throw usageError('PUBLISH_SETTINGS_INVALID', `--publish-settings ${file} names no subscription (<Subscription Id="…">)`, {
      field: 'publishSettings',
      file,
    });
  const subscriptionId = validateSubscription(first.id, '--publish-settings subscription');
  return first.name ? { subscriptionId, subscriptionName: first.name, subscriptions: subs.length } : { subscriptionId, subscriptions: subs.length };
}

const ADDRESS_FIELDS: Array<{ key: keyof ReturnAddress; required: boolean; question: string }> = [
  { key: 'recipientName', required: true, question: 'Contact name:' },
  { key: 'phone', required: true, question: 'Contact phone number:' },
  { key: 'email', required: true, question: 'Contact e-mail address:' },
  { key: 'streetAddress1', required: true, question: 'Return address, street:' },
  { key: 'streetAddress2', required: false, question: 'Return address, second line (optional):' },
  { key: 'city', required: true, question: 'City:' },
  { key: 'stateOrProvince', required: false, question: 'State or province (optional):' },
  { key: 'postalCode', required: true, question: 'Postal code:' },
  { key: 'countryOrRegion', required: true, question: 'Country or region:' },
];
const SHIPPING_FIELDS: Array<{ key: keyof ReturnShipping; question: string }> = [
  { key: 'carrierName', question: 'Carrier to return the drives with (e.g. FedEx):' },
  { key: 'carrierAccountNumber', question: 'Your account number with that carrier:' },
];

/**
 * Validates a return-address object (the parsed `--return-address` file). Every missing or
 * malformed field is named in one RETURN_ADDRESS_INVALID error (details.fields lists them).
 */
export function validateReturnInfo(value: unknown, source = '--return-address'): ReturnInfo {
  const problems: string[] = [];
  const obj = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const root = obj(value);
  if (!root)
    throw usageError('RETURN_ADDRESS_INVALID', `${source} must hold a JSON object {"returnAddress": {…}, "returnShipping": {…}} (docs/prep.md)`, {
      field: 'returnAddress',
    });
  const ra = obj(root.returnAddress);
  const rs = obj(root.returnShipping);
  if (!ra) problems.push('returnAddress');
  if (!rs) problems.push('returnShipping');
  const address: Record<string, string> = {};
  if (ra) {
    for (const f of ADDRESS_FIELDS) {
      const v = ra[f.key];
      if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
        if (f.required) problems.push(`returnAddress.${f.key}`);
      } else if (typeof v !== 'string') problems.push(`returnAddress.${f.key} (not a string)`);
      else address[f.key] = v.trim();
    }
    if (address.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address.email))
      problems.push(`returnAddress.email ("${address.email}" is not an e-mail address)`);
  }
  const shipping: Record<string, string> = {};
  if (rs) {
    for (const f of SHIPPING_FIELDS) {
      const v = rs[f.key];
      if (typeof v !== 'string' || v.trim() === '') problems.push(`returnShipping.${f.key}`);
      else shipping[f.key] = v.trim();
    }
  }
  if (problems.length > 0) {
    throw usageError(
      'RETURN_ADDRESS_INVALID',
      `${source} is missing or has invalid: ${problems.join(', ')} (the import service requires them; docs/prep.md "Return address file")`,
      { field: 'returnAddress', fields: problems },
    );
  }
  return { returnAddress: address as unknown as ReturnAddress, returnShipping: shipping as unknown as ReturnShipping };
}

/** Reads and validates a `--return-address` JSON file. */
export function readReturnInfo(file: string): ReturnInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError('RETURN_ADDRESS_UNREADABLE', `--return-address ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`, {
      field: 'returnAddress',
      file,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError('RETURN_ADDRESS_INVALID', `--return-address ${file} is not valid JSON (${(err as Error).message})`, { field: 'returnAddress', file });
  }
  return validateReturnInfo(value, `--return-address ${file}`);
}

/** Asks each field like the old tool did; without a prompter, PROMPT_REQUIRED naming --return-address. */
export async function askReturnInfo(ctx: Pick<CommandContext, 'prompter'>): Promise<ReturnInfo> {
  const ask = (question: string) => askOrFail(ctx, { question, flag: '--return-address', field: 'returnAddress' });
  const returnAddress: Record<string, string> = {};
  for (const f of ADDRESS_FIELDS) {
    for (;;) {
      const a = (await ask(f.question)).trim();
      if (a === '' && f.required) continue; // all required, as in the old tool: ask again
      if (a !== '') returnAddress[f.key] = a;
      break;
    }
  }
  const returnShipping: Record<string, string> = {};
  for (const f of SHIPPING_FIELDS) {
    let a = '';
    while (a === '') a = (await ask(f.question)).trim();
    returnShipping[f.key] = a;
  }
  return validateReturnInfo({ returnAddress, returnShipping }, 'the answers');
}
