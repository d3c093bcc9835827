/**
 * The lazy command registry (src/commands/index.ts): `driveseed <cmd>` loads only <cmd>'s modules,
 * and nothing a user sees changes because of it. Checked here:
 *   - each entry's `words` are exactly the first words of the commands its module exports
 *   - for every command line of every command (`<cmd> --help`, each subcommand's --help, an unknown
 *     option, a missing required option), the program built from commandsFor(<first word>) writes
 *     the same output and fails with the same commander code as the one built from every command
 *   - a spawned `driveseed --json version` loads no other command module, and its output is the
 *     same as the registry's version command's
 */
import { spawnSync } from 'node:child_process';
import { CommanderError } from 'commander';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildProgram } from '../src/cli/program';
import { MODULES, allCommands, commandsFor } from '../src/commands';
import { isCommandSpec, type CommandSpec } from '../src/core/command';
import { MAIN, cliEnv } from './support/cli';
import { ROOT } from './support/rpc-client';

test("each registry entry's words are the first words of its module's commands", () => {
  for (const m of MODULES) {
    const specs = Object.values(m.load()).filter(isCommandSpec);
    assert.ok(specs.length > 0, `${m.words.join(',')}: the module exports no command`);
    const first = [...new Set(specs.map((s) => s.name.split(' ')[0]!))].sort();
    assert.equal(first, [...m.words].sort(), `words of the entry for ${specs[0]!.name}`);
  }
  const all = allCommands();
  assert.ok(all.length >= 19, `only ${all.length} commands`);
  const words = MODULES.flatMap((m) => m.words);
  assert.equal(words.length, new Set(words).size, 'a first word is declared by two entries');
});

function parse(specs: CommandSpec<any, any, any>[], argv: string[]): { out: string; err: string; code: string; selected: string | undefined } {
  let out = '';
  let err = '';
  let selected: string | undefined;
  const program = buildProgram(specs, {
    select: (s) => {
      selected = 'rpc' in s ? 'rpc' : s.spec.name;
    },
    writeOut: (s) => {
      out += s;
    },
    writeErr: (s) => {
      err += s;
    },
  });
  let code = 'ok';
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = `${e.code}: ${e.message}`;
  }
  return { out, err, code, selected };
}

test('help, unknown options and missing options read the same with only the named command loaded', () => {
  const lines: string[][] = [];
  for (const spec of allCommands()) {
    const words = spec.name.split(' ');
    lines.push([...words, '--help'], [...words, '--no-such-option'], words);
    if (words.length > 1) lines.push([words[0]!, '--help'], [words[0]!, 'no-such-subcommand']);
  }
  for (const argv of lines) {
    const full = parse(allCommands(), argv);
    const lazy = parse(commandsFor(argv[0]), argv);
    assert.equal(lazy, full, `driveseed ${argv.join(' ')}`);
  }
  // the case that shows the comparison can fail: the top-level help lists every command
  assert.not.equal(parse(commandsFor('stage'), ['--help']).out, parse(allCommands(), ['--help']).out);
});

test('commandsFor loads every command for no word, an option, rpc, help and unknown words', () => {
  const n = allCommands().length;
  for (const w of [undefined, '--help', '-h', 'rpc', 'help', 'stag']) assert.is(commandsFor(w).length, n, String(w));
  assert.equal(
    commandsFor('job').map((c) => c.name),
    allCommands()
      .filter((c) => c.name.startsWith('job '))
      .map((c) => c.name),
  );
});

test('a spawned `driveseed --json version` loads only the version command', () => {
  const script = [
    `const { main } = require(${JSON.stringify(MAIN)});`,
    "main(['--json', 'version']).then((code) => {",
    "  const mods = Object.keys(require.cache).filter((f) => /[\\\\/]src[\\\\/]commands[\\\\/]/.test(f)).map((f) => f.replace(/^.*[\\\\/]/, '')).sort();",
    "  process.stderr.write('LOADED ' + JSON.stringify(mods) + '\\n');",
    '  process.exitCode = code;',
    '});',
  ].join('\n');
  const env = cliEnv();
  delete env.DRIVESEED_TEST_COMMANDS;
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8', env });
  assert.is(r.status, 0, r.stderr);
  const loaded = JSON.parse(/LOADED (.*)/.exec(r.stderr)?.[1] ?? 'null') as string[];
  assert.equal(loaded, ['exit.ts', 'index.ts', 'version.ts']);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { type: string; data: { driveseed: string } };
  assert.is(result.type, 'result');
  assert.type(result.data.driveseed, 'string');
});

test.run();
