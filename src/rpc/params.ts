/**
 * JSON-RPC params → raw options, from the command's declarations (src/core/command.ts). Params are
 * named (an object); positional args are named params too ("sources"). Failures are ParamsError,
 * which the server answers with -32602 naming the field.
 */
import type { CommandSpec, OptionType } from '../core/command';

export class ParamsError extends Error {
  constructor(
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ParamsError';
  }
}

function typeOk(type: OptionType, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

const TYPE_WORDS: Record<OptionType, string> = {
  string: 'a string',
  number: 'a finite number',
  boolean: 'true or false',
  'string[]': 'an array of strings',
};

/**
 * The JSON type of a param value, never the value: a param may be a secret (`passphrase`) that has
 * not been wrapped in a Secret yet, and a wrong-typed secret is still a secret.
 */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? 'an array' : 'an array with a value that is not a string';
  if (typeof v === 'object') return 'an object';
  return typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : typeof v;
}

/**
 * Validates `params` against the spec and returns the raw options (defaults applied). The destructive
 * confirm param is accepted even when the command does not declare it, and passed on unchanged.
 */
export function paramsToRaw(spec: CommandSpec<any, any, any>, params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new ParamsError(undefined, `params of "${spec.rpcMethod}" must be an object with named fields (received ${describe(params)})`);
  }
  const given = params as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const o of spec.options ?? []) {
    if (o.cliOnly) continue;
    known.add(o.name);
    const v = given[o.name];
    if (v === undefined) {
      if (o.defaultValue !== undefined) raw[o.name] = o.defaultValue;
      else if (o.required) throw new ParamsError(o.name, `"${spec.rpcMethod}" needs the param "${o.name}" (${o.description})`);
      continue;
    }
    if (!typeOk(o.type, v)) throw new ParamsError(o.name, `Expected ${TYPE_WORDS[o.type]} for param "${o.name}" but received ${describe(v)}`);
    raw[o.name] = v;
  }
  for (const a of spec.args ?? []) {
    known.add(a.name);
    const v = given[a.name];
    if (v === undefined || (a.variadic && Array.isArray(v) && v.length === 0)) {
      if (a.required) throw new ParamsError(a.name, `"${spec.rpcMethod}" needs the param "${a.name}" (${a.description})`);
      continue;
    }
    const type: OptionType = a.variadic ? 'string[]' : 'string';
    if (!typeOk(type, v)) throw new ParamsError(a.name, `Expected ${TYPE_WORDS[type]} for param "${a.name}" but received ${describe(v)}`);
    raw[a.name] = v;
  }
  const confirm = spec.destructive?.confirmParam;
  if (confirm !== undefined && !known.has(confirm)) {
    known.add(confirm);
    if (given[confirm] !== undefined) raw[confirm] = given[confirm];
  }
  for (const k of Object.keys(given)) {
    if (!known.has(k)) {
      const list = [...known].sort().join(', ') || 'none';
      throw new ParamsError(k, `Unknown param "${k}" for "${spec.rpcMethod}" (known params: ${list})`);
    }
  }
  return raw;
}

/** True when `confirm` names exactly `targets`: one target as a string or [string], several as the same array in order. */
export function confirmMatches(targets: string[], confirm: unknown): boolean {
  if (targets.length === 0) return true;
  if (typeof confirm === 'string') return targets.length === 1 && confirm === targets[0];
  return Array.isArray(confirm) && confirm.length === targets.length && confirm.every((c, i) => c === targets[i]);
}
