import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ALARMS, RUNBOOK_PROCEDURES } from '../../core/alarms.ts';
import { BOOKMARK_OPTIONS, FRAMEWORK_ARGUMENT_NAMES } from '../../core/job/index.ts';
import { createProgram } from '../../cli/invoke.ts';
import { bufferIo } from '../../cli/io.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';
import { PIPELINE_RULES_DIR } from '../../jobs/quality.ts';

const repoRoot = path.join(import.meta.dirname, '..', '..');
const runbookDir = path.join(repoRoot, 'runbooks');
const SECTIONS = ['What fired.', 'Impact.', 'Diagnose.', 'Fix and replay.', 'Escalate.'];

const jobNames = new Set(PIPELINE_JOBS.map((job) => job.name));
const ruleSetNames = new Set(readdirSync(PIPELINE_RULES_DIR).filter((file) => file.endsWith('.dqdl')).map((file) => file.slice(0, -'.dqdl'.length)));
/** What the positional arguments of a command name, so a runbook cannot send an operator to a job that does not exist. */
const POSITIONALS: Readonly<Record<string, ReadonlySet<string>>> = {
  run: jobNames,
  runs: jobNames,
  'bookmark get': jobNames,
  'bookmark reset': jobNames,
  quality: ruleSetNames,
  'quality history': ruleSetNames,
  'catalog publish': new Set(PIPELINE_TABLES.map((spec) => spec.name)),
};
/** Glue-style arguments `medallion run` takes besides its own options (it ignores unknown ones, as Glue does, so typos must be caught here). */
const RUN_ARGUMENTS = new Set([...FRAMEWORK_ARGUMENT_NAMES.map((name) => `--${name}`), ...PIPELINE_JOBS.flatMap((job) => Object.keys(job.defaultArguments ?? {}).map((name) => `--${name}`))]);

/** Words of a shell command line, quotes removed (enough for the commands runbooks show). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(<[^>]*>|\S+)/g;
  for (const match of line.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3] ?? '');
  return words;
}

/** Every `medallion ...` command in the fenced code blocks of a markdown text, with its line. */
export function medallionCommands(markdown: string): { line: number; words: string[] }[] {
  const commands: { line: number; words: string[] }[] = [];
  const lines = markdown.split('\n');
  let fenced = false;
  for (let index = 0; index < lines.length; index += 1) {
    const text = lines[index] as string;
    if (text.trim().startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) continue;
    let command = text;
    const start = index;
    while (command.trimEnd().endsWith('\\') && index + 1 < lines.length) command = `${command.trimEnd().slice(0, -1)} ${lines[++index]}`;
    for (const part of command.split(/\||&&|;|\$\(/)) {
      const words = shellWords(part.trim());
      const at = words.findIndex((word) => word === 'medallion');
      if (at >= 0 && (at === 0 || words[at - 1] === 'npx')) commands.push({ line: start + 1, words: words.slice(at + 1) });
    }
  }
  return commands;
}

/** What is wrong with one command line against the CLI's command tree; [] when it exists as written. */
export function commandProblems(program: Command, words: readonly string[]): string[] {
  const problems: string[] = [];
  const globalOptions = new Set(program.options.flatMap((option) => [option.long, option.short].filter((name): name is string => name !== undefined)));
  let command = program;
  const path: string[] = [];
  let index = 0;
  // Global options come before the command.
  while (index < words.length && (words[index] as string).startsWith('-')) {
    const word = (words[index] as string).split('=')[0] as string;
    if (!globalOptions.has(word)) problems.push(`global option ${word} does not exist`);
    const option = program.options.find((candidate) => candidate.long === word || candidate.short === word);
    index += option && (option.required || option.optional) && !(words[index] as string).includes('=') ? 2 : 1;
  }
  for (; index < words.length; index += 1) {
    const sub = command.commands.find((candidate) => candidate.name() === words[index]);
    if (!sub) break;
    command = sub;
    path.push(sub.name());
  }
  if (path.length === 0) return [...problems, `${words[index] ?? '(nothing)'} is not a medallion command`];
  const name = path.join(' ');
  const options = new Set([...command.options.flatMap((option) => [option.long, option.short]), '--help', '-h'].filter((flag): flag is string => flag !== undefined));
  if (name === 'quality') for (const option of command.options) if (option.negate && option.long) options.add(option.long);
  const allowed = POSITIONALS[name];
  for (; index < words.length; index += 1) {
    const word = words[index] as string;
    if (word.startsWith('-')) {
      const flag = word.split('=')[0] as string;
      if (options.has(flag)) {
        const option = command.options.find((candidate) => candidate.long === flag || candidate.short === flag);
        if (option && (option.required || option.optional) && !word.includes('=')) index += 1;
        continue;
      }
      if (name === 'run' && RUN_ARGUMENTS.has(flag)) {
        const value = words[index + 1];
        if (flag === '--job-bookmark-option' && value !== undefined && !(BOOKMARK_OPTIONS as readonly string[]).includes(value)) problems.push(`${value} is not a bookmark option`);
        index += 1;
        continue;
      }
      problems.push(`medallion ${name} has no option ${flag}`);
      // Glue-style arguments take a value.
      if (name === 'run' && !(words[index + 1] ?? '-').startsWith('-')) index += 1;
    } else if (allowed && !/^<.*>$/.test(word) && !allowed.has(word)) {
      problems.push(`medallion ${name}: ${word} is not one of ${[...allowed].join(', ')}`);
    } else if (!allowed && command.registeredArguments.length === 0) {
      problems.push(`medallion ${name} takes no argument ${word}`);
    }
  }
  return problems;
}

const program = createProgram({ io: bufferIo(), env: {} });
const pages = readdirSync(runbookDir).filter((file) => file.endsWith('.md') && file !== 'README.md').sort();
/** Pages for a situation rather than an alarm (an error a run or a query reports, a recovery): no alarm names them. */
const PROCEDURES: readonly string[] = RUNBOOK_PROCEDURES.map((id) => `${id}.md`);
const sectionsOf = (page: string) => (PROCEDURES.includes(page) ? ['When to use.', ...SECTIONS.slice(1)] : SECTIONS);

describe('runbooks', () => {
  it('every alarm of the registry has its runbook, and every runbook belongs to an alarm', () => {
    expect(pages.filter((page) => !PROCEDURES.includes(page))).toEqual(ALARMS.map((alarm) => `${alarm.id}.md`).sort());
    const index = readFileSync(path.join(runbookDir, 'README.md'), 'utf8');
    for (const alarm of ALARMS) expect(index, `runbooks/README.md lists ${alarm.id}`).toContain(`(${alarm.id}.md)`);
    const procedures = index.slice(index.indexOf('## Procedures'));
    expect(index).toContain('## Procedures');
    for (const page of PROCEDURES) expect(procedures, `runbooks/README.md lists ${page} under Procedures`).toContain(`(${page})`);
  });

  it.each(pages)('%s says what fired (or when to use it), the impact, how to diagnose, fix and replay, and when to escalate', (page) => {
    const text = readFileSync(path.join(runbookDir, page), 'utf8');
    expect(text.startsWith(`# ${page.slice(0, -3)}\n`)).toBe(true);
    const positions = sectionsOf(page).map((section) => text.indexOf(`**${section}**`));
    expect(positions.every((position) => position >= 0), `${page} has ${sectionsOf(page).join(' ')}`).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it.each(pages.filter((page) => ![
    'firehose-throttling.md', 'dynamodb-throttling.md', 'pipeline-schedule-failed.md', 'kinesis-iterator-age.md',
    'dynamodb-replication-lag.md', 'dynamodb-replication-failed.md', 'dynamodb-replication-throttled.md', 'kinesis-write-throttling.md',
  ].includes(page)))(
    '%s diagnoses with medallion commands',
    (page) => {
      expect(medallionCommands(readFileSync(path.join(runbookDir, page), 'utf8')).length).toBeGreaterThan(0);
    },
  );

  it.each([...pages, 'README.md'])('%s names only medallion commands, options, jobs and tables that exist', (page) => {
    const problems = medallionCommands(readFileSync(path.join(runbookDir, page), 'utf8')).flatMap(({ line, words }) =>
      commandProblems(program, words).map((problem) => `${page}:${line}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('the command check catches unknown commands, options, arguments and jobs', () => {
    const check = (line: string) => medallionCommands(`\`\`\`sh\n${line}\n\`\`\``).flatMap(({ words }) => commandProblems(program, words));
    expect(check('medallion qualty')).toEqual(['qualty is not a medallion command']);
    expect(check('medallion quality history --faild')).toEqual(['medallion quality history has no option --faild']);
    expect(check('medallion runs silver.taks')).toEqual([expect.stringContaining('silver.taks is not one of')]);
    expect(check('medallion run silver.tasks --job-bookmark-opton job-bookmark-enable')).toEqual(['medallion run has no option --job-bookmark-opton']);
    expect(check('medallion run silver.tasks --job-bookmark-option job-bookmark-enabled')).toEqual(['job-bookmark-enabled is not a bookmark option']);
    expect(check('medallion --lakes x runs')).toContain('global option --lakes does not exist');
    expect(check('aws s3 ls | medallion query "SELECT 1" && npx medallion quality silver.tasks --no-record')).toEqual([]);
    expect(check('medallion jobs extra')).toEqual(['medallion jobs takes no argument extra']);
  });
});
