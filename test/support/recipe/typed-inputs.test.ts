/**
 * Typed recipes and node scripts (issue 18 item 7): small TypeScript projects, written as a user
 * would write them, are compiled under `strict` by the repository's own tsc against the
 * framework's sources (`pipeline-framework` mapped to support/index.ts by `paths`, as dist/ may
 * not be built). One project must compile; in the other, every line marked `// error: TSnnnn`
 * must fail with that code, and nothing else may fail, so that each case fails for its reason.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsc = join(repo, 'node_modules', '.bin', 'tsc');

/** The README's greet recipe in TypeScript: a list with default, an optional int, a required string. */
const greetRecipe = (body: string): string => `
import { ComputeJob, RemoteCommand, field, recipe } from 'pipeline-framework';

export default class Greet extends RemoteCommand(recipe({
  description: 'greet every name from a node script',
  inputs: {
    names: field.list({ help: 'who to greet', default: ['ann', 'bob'] }),
    times: field.int({ help: 'how often each is greeted', optional: true }),
    greeting: field.string({ help: 'the word to greet with' }),
  },
})) {
  async go() {
${body}
  }
}
`;

/** The greet node script; `run` is its run() line, to give it other parameters. */
const greetNode = (body: string, run = 'async run(name: string, greeting: string, times: number) {'): string => `
import { Node } from 'pipeline-framework/node';

export class GreetNode extends Node<[name: string, greeting: string, times: number], { greeting: string }> {
  ${run}
${body}
  }
}

Node.main(GreetNode, import.meta);
`;

const typeChecks = `
// Compiles only when A and B are the same type.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
export const same = <A, B>(_: Equal<A, B>): void => undefined;
`;

const passing: Record<string, string> = {
  'type-checks.ts': typeChecks,
  'greet.ts': greetRecipe(`
    const jobs = this.inputs.names.map(
      (name) => new ComputeJob(null, this.nodeScript('greet'), [name, this.inputs.greeting, this.inputs.times ?? 1]));
    await this.scheduleJobs(jobs, { maxPerNode: 2 });
    this.outputs.greetings = jobs.map((job) => job.results.outputs.greeting);
    return this.error.isSet() ? 1 : 0;`),
  'greet-types.ts': greetRecipe(`
    same<typeof this.inputs.names, string[]>(true);
    same<typeof this.inputs.times, number | undefined>(true);
    same<typeof this.inputs.greeting, string>(true);
    return 0;`).replace("from 'pipeline-framework';", "from 'pipeline-framework';\nimport { same } from './type-checks.js';"),
  'greet-node.ts': greetNode(`
    this.logger.info(\`greeting \${name}\`);
    this.outputs.greeting = Array.from({ length: times }, () => \`\${greeting} \${name}\`).join(', ');
    return 0;`),
  // The README's JavaScript form, untyped: strict asks only for the callback's parameter type.
  'greet-js-style.ts': `
import { BaseRecipe, RemoteCommand, ComputeJob, field } from 'pipeline-framework';

export default class Greet extends RemoteCommand(BaseRecipe) {
  static description = 'greet every name from a node script';
  static inputs = {
    names: field.list({ help: 'who to greet', default: ['ann', 'bob'] }),
  };

  async go() {
    const jobs = this.inputs.names.map(
      (name: string) => new ComputeJob(null, this.nodeScript('greet'), [name]));
    await this.scheduleJobs(jobs, { maxPerNode: 2 });
    this.outputs.greetings = jobs.map((job: ComputeJob) => job.results.outputs.greeting);
    return this.error.isSet() ? 1 : 0;
  }
}
`,
  // The same with the manual form of the types, and an untyped node script.
  'greet-declared.ts': `
import { BaseRecipe, RemoteCommand, ComputeJob, Node, field, type InputsOf } from 'pipeline-framework';
import { same } from './type-checks.js';

export default class Greet extends RemoteCommand(BaseRecipe) {
  static inputs = {
    names: field.list({ help: 'who to greet', default: ['ann', 'bob'] }),
    times: field.int({ help: 'how often', optional: true }),
  };
  declare inputs: InputsOf<typeof Greet.inputs>;

  async go() {
    same<typeof this.inputs.times, number | undefined>(true);
    await this.scheduleJobs(this.inputs.names.map((name) => new ComputeJob(null, this.nodeScript('greet'), [name])));
    return 0;
  }
}

export class AnyNode extends Node {
  async run(name: string, count: number) {
    this.outputs.anything = { name, count };
  }
}
Node.main(AnyNode, import.meta);
`,
};

const failing: Record<string, string> = {
  'misspelt.ts': greetRecipe(`
    this.logger.info(this.inputs.nmaes.join(', ')); // error: TS2551
    return 0;`),
  'misspelt-declared.ts': `
import { BaseRecipe, RemoteCommand, field, type InputsOf } from 'pipeline-framework';

export default class Greet extends RemoteCommand(BaseRecipe) {
  static inputs = { names: field.list({ help: 'who to greet', default: ['ann', 'bob'] }) };
  declare inputs: InputsOf<typeof Greet.inputs>;

  async go() {
    return this.inputs.nmaes.length; // error: TS2551
  }
}
`,
  'optional-unchecked.ts': greetRecipe(`
    const times: number = this.inputs.times; // error: TS2322
    return times;`),
  'node-output-type.ts': greetNode(`
    this.outputs.greeting = 5; // error: TS2322
    return 0;`),
  'node-run-arguments.ts': greetNode('    return name;', 'async run(name: number, greeting: string, times: number) { // error: TS2416'),
};

interface Diagnostic { file: string; line: number; code: string; text: string }

/** Writes the project into a fresh directory and compiles it; returns tsc's exit status and its errors. */
function compile(files: Record<string, string>): { status: number | null; output: string; errors: Diagnostic[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'typed-inputs-'));
  const compilerOptions = {
    strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2023', lib: ['ES2023'], noEmit: true, skipLibCheck: true,
    // The framework's own sources, not dist/: no build is needed, and its @types/node serves both.
    paths: { 'pipeline-framework': [join(repo, 'support', 'index.ts')], 'pipeline-framework/node': [join(repo, 'support', 'node', 'runtime.ts')] },
    typeRoots: [join(repo, 'node_modules', '@types')], types: ['node'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' })); // ES modules, as the README asks
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const result = spawnSync(tsc, ['-p', dir, '--pretty', 'false'], { encoding: 'utf8', timeout: 60_000 });
  const output = `${result.stdout}${result.stderr}`;
  const errors = [...output.matchAll(/^(\S+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map(([, file, line, code, text]) => ({ file: file!, line: Number(line), code: code!, text: text! }));
  return { status: result.status, output, errors, dir };
}

/** The `// error: TSnnnn` marks of the files, where they are. */
function marked(files: Record<string, string>): string[] {
  return Object.entries(files).flatMap(([file, text]) => text.split('\n').flatMap((line, n) => {
    const mark = /\/\/ error: (TS\d+)/.exec(line);
    return mark ? [`${file}:${n + 1} ${mark[1]}`] : [];
  }));
}

describe('support/recipe typed inputs and node scripts (tsc, strict)', function () {
  this.timeout(120_000);
  let ok: ReturnType<typeof compile>;
  let bad: ReturnType<typeof compile>;

  before(function () {
    ok = compile(passing);
    bad = compile(failing);
  });

  after(() => {
    for (const project of [ok, bad]) if (project) rmSync(project.dir, { recursive: true, force: true });
  });

  it('compiles the typed recipe, the typed node script, the JavaScript form and the declared form', () => {
    expect(ok.status, ok.output).to.equal(0);
    expect(ok.output).to.equal('');
  });

  it('fails exactly on the marked lines, each with its error', () => {
    expect(bad.status, bad.output).to.not.equal(0);
    const found = bad.errors.map((error) => `${error.file.replace(/^.*\//, '')}:${error.line} ${error.code}`);
    expect(found.sort(), bad.output).to.deep.equal(marked(failing).sort());
  });

  it('names the misspelt input, in a recipe() class and in the declared form', () => {
    const misspelt = bad.errors.filter((error) => /misspelt/.test(error.file));
    expect(misspelt).to.have.length(2);
    for (const error of misspelt) {
      expect(error.text).to.match(/Property 'nmaes' does not exist/);
      expect(error.text).to.include("Did you mean 'names'?");
    }
  });

  it('types an optional input without default as possibly undefined', () => {
    const [error] = bad.errors.filter((e) => e.file.endsWith('optional-unchecked.ts'));
    expect(error?.text).to.equal("Type 'number | undefined' is not assignable to type 'number'.");
  });

  it('checks a node script\'s outputs and run() arguments against its type parameters', () => {
    const [output] = bad.errors.filter((e) => e.file.endsWith('node-output-type.ts'));
    expect(output?.text).to.equal("Type 'number' is not assignable to type 'string'.");
    const [run] = bad.errors.filter((e) => e.file.endsWith('node-run-arguments.ts'));
    expect(run?.text).to.match(/Property 'run' in type 'GreetNode' is not assignable to the same property in base type 'Node<\[name: string, greeting: string, times: number\]/);
    expect(bad.output).to.include("Type 'string' is not assignable to type 'number'.");
  });
});
