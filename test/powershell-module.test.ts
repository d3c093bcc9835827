/**
 * scripts/DriveSeed.psm1 against the command registry, so that the module and the commands cannot
 * drift apart. This reads the module's text and needs no PowerShell, so it runs everywhere; the
 * module's behaviour is tested under pwsh by test/powershell-pwsh.test.ts (docs/powershell.md). For every cmdlet that calls
 * `Invoke-DriveSeedRpc -Method '<m>'`, the params it can send are read from the module text:
 *   - the values of its `ConvertTo-DriveSeedParams $PSBoundParameters @{ Ps = 'rpcName'; … }` map
 *   - `$params['rpcName'] = …` assignments
 *   - inline `-Params @{ rpcName = … }`
 * and checked against the method's declarations (src/core/command.ts): every name is a param of the
 * method (options without cliOnly, positional args, the destructive confirm param), and every
 * required param is always sent (assigned unconditionally, inline, or mapped from a Mandatory
 * PowerShell parameter). The manifest must export every cmdlet the module exports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allCommands } from '../src/commands';
import type { CommandSpec } from '../src/core/command';
import { ROOT } from './support/rpc-client';

const commands = allCommands();

const psm1 = fs.readFileSync(path.join(ROOT, 'scripts', 'DriveSeed.psm1'), 'utf8');
const psd1 = fs.readFileSync(path.join(ROOT, 'scripts', 'DriveSeed.psd1'), 'utf8');

/**
 * Methods the module calls whose command is still being written by another engineer. Each must be
 * absent from the registry: once the command lands, this test fails until the name is removed here,
 * and from then on the cmdlet's params are checked like every other.
 */
const PENDING = new Set<string>([]);

interface Call {
  cmdlet: string;
  method: string;
  /** rpc param name → always sent */
  params: Map<string, boolean>;
}

function functions(text: string): Array<{ name: string; body: string }> {
  const out: Array<{ name: string; body: string }> = [];
  const re = /^function\s+([A-Za-z-]+)\s*\{/gm;
  const starts = [...text.matchAll(re)];
  starts.forEach((m, i) => out.push({ name: m[1]!, body: text.slice(m.index!, starts[i + 1]?.index ?? text.length) }));
  return out;
}

/** PowerShell parameters declared Mandatory in a function's param() block */
function mandatory(body: string): Set<string> {
  const out = new Set<string>();
  for (const m of body.matchAll(/\[Parameter\(([^)]*)\)\][^$]*?\$(\w+)/g)) if (/\bMandatory\b/.test(m[1]!)) out.add(m[2]!);
  return out;
}

function calls(): Call[] {
  const out: Call[] = [];
  for (const f of functions(psm1)) {
    const methods = [...f.body.matchAll(/Invoke-DriveSeedRpc\s+-Method\s+'([^']+)'/g)].map((m) => m[1]!);
    if (f.name === 'Invoke-DriveSeedRpc' || methods.length === 0) continue;
    const must = mandatory(f.body);
    const params = new Map<string, boolean>();
    const add = (name: string, always: boolean) => params.set(name, (params.get(name) ?? false) || always);
    for (const m of f.body.matchAll(/ConvertTo-DriveSeedParams\s+\$PSBoundParameters\s+@\{([^}]*)\}/g)) {
      for (const e of m[1]!.matchAll(/(\w+)\s*=\s*'(\w+)'/g)) add(e[2]!, must.has(e[1]!));
    }
    for (const line of f.body.split('\n')) {
      const a = /\$params\['(\w+)'\]\s*=/.exec(line);
      // an assignment under `if (…) {` on the same line is conditional
      if (a) add(a[1]!, !/^\s*if\s*\(/.test(line));
    }
    for (const m of f.body.matchAll(/-Params\s+@\{([^}]*)\}/g)) for (const e of m[1]!.matchAll(/(\w+)\s*=/g)) add(e[1]!, true);
    for (const method of methods) out.push({ cmdlet: f.name, method, params });
  }
  return out;
}

function paramsOf(spec: CommandSpec<unknown, unknown, unknown>): { known: Set<string>; required: Set<string> } {
  const known = new Set<string>();
  const required = new Set<string>();
  for (const o of spec.options ?? []) {
    if (o.cliOnly) continue;
    known.add(o.name);
    if (o.required && o.defaultValue === undefined) required.add(o.name);
  }
  for (const a of spec.args ?? []) {
    known.add(a.name);
    if (a.required) required.add(a.name);
  }
  if (spec.destructive) {
    known.add(spec.destructive.confirmParam);
    required.add(spec.destructive.confirmParam);
  }
  return { known, required };
}

const found = calls();
const byMethod = new Map(commands.map((c) => [c.rpcMethod, c]));

test('the parser sees the module calls (sanity: it cannot pass on an empty module)', () => {
  const stage = found.find((c) => c.cmdlet === 'Start-DriveSeedStage');
  assert.ok(stage, 'Start-DriveSeedStage found');
  assert.is(stage!.method, 'stage');
  assert.is(stage!.params.get('sources'), true, 'sources always sent (-Source is Mandatory)');
  assert.is(stage!.params.get('level'), false, 'level only when bound');
  assert.ok(found.length >= 9, `only ${found.length} calls found`);
});

test('every method the module calls exists (pending ones are still absent from the registry)', () => {
  for (const p of PENDING) assert.not.ok(byMethod.has(p), `"${p}" is registered now: remove it from PENDING in test/powershell-module.test.ts`);
  const unknown = found.filter((c) => !byMethod.has(c.method) && !PENDING.has(c.method)).map((c) => `${c.cmdlet} → ${c.method}`);
  assert.equal(unknown, []);
});

test('every param the module sends is declared by the method, and every required param is always sent', () => {
  const problems: string[] = [];
  for (const c of found) {
    const spec = byMethod.get(c.method);
    if (!spec) continue;
    const { known, required } = paramsOf(spec);
    for (const name of c.params.keys())
      if (!known.has(name)) problems.push(`${c.cmdlet} sends "${name}", which ${c.method} does not declare (known: ${[...known].sort().join(', ')})`);
    for (const r of required) if (c.params.get(r) !== true) problems.push(`${c.cmdlet} does not always send "${r}", which ${c.method} requires`);
  }
  assert.equal(problems, []);
});

test('every workflow method has a cmdlet', () => {
  const called = new Set(found.map((c) => c.method));
  const want = [
    'stage',
    'prep',
    'verify',
    'job.create',
    'job.get',
    'job.cancel',
    'ship',
    'status',
    'complete',
    'repair',
    'backup',
    'restore',
    'snapshots.list',
    'check',
    'drives.list',
    'keys.list',
  ].filter((m) => byMethod.has(m));
  assert.equal(
    want.filter((m) => !called.has(m)),
    [],
  );
});

test('the manifest exports exactly the functions the module exports', () => {
  const exported = /Export-ModuleMember\s+-Function\s+([\s\S]*?)\n\s*\n|Export-ModuleMember\s+-Function\s+([\s\S]*)$/.exec(psm1)!;
  const fromPsm1 = new Set((exported[1] ?? exported[2] ?? '').split(/[\s,]+/).filter((s) => /^[A-Z][A-Za-z]+-DriveSeed\w*$/.test(s)));
  const list = /FunctionsToExport\s*=\s*@\(([\s\S]*?)\)/.exec(psd1)!;
  const fromPsd1 = new Set([...list[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!));
  assert.equal([...fromPsd1].sort(), [...fromPsm1].sort());
  for (const f of fromPsm1)
    assert.ok(
      functions(psm1).some((x) => x.name === f),
      `${f} is exported but not defined`,
    );
});

test.run();
