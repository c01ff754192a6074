/** Generic-pipeline parsets are read and checked before anything runs: the order, the kinds, and one line per mistake. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, UsageError } from '../../../support/errors.js';
import { BUILTIN_PLUGINS, parsePipelineParset, type StepTypes } from '../../../support/config/pipeline-parset.js';

const TYPES: StepTypes = {
  isTask: (name) => ['dppp', 'executable_args', 'python-calibrate-stand-alone', 'pythonplugin'].includes(name),
  isPlugin: (name) => BUILTIN_PLUGINS.includes(name),
};

/** A cut-down prefactor calibrator pipeline, in its own words. */
const GOOD = `# calibrator part, cut down
! avg_timestep         = 2   # averaging step
! cal_input_path       = /data/cal/
! cal_input_pattern    = L*.MS
! error_tolerance      = False
! inspection_directory = /data/inspection

pipeline.steps = [createmap_cal, ndppp_prep_cal, combine, sky_cal, {{ empty_list_name }}]
pipeline.steps.tail = [mk_inspect_dir, copy_h5, calloop]

createmap_cal.control.kind        = plugin
createmap_cal.control.type        = createMapfile
createmap_cal.control.method      = mapfile_from_folder
createmap_cal.control.mapfile_dir = input.output.mapfile_dir
createmap_cal.control.folder      = {{ cal_input_path }}
createmap_cal.control.pattern     = {{ cal_input_pattern }}

ndppp_prep_cal.control.type            = dppp
ndppp_prep_cal.control.error_tolerance = {{ error_tolerance }}
ndppp_prep_cal.argument.msin           = createmap_cal.output.mapfile    # the input data
ndppp_prep_cal.argument.avg.timestep   = {{ avg_timestep }}
ndppp_prep_cal.argument.steps          = [flag,avg]

combine.control.kind       = plugin
combine.control.type       = createMapfile
combine.control.method     = mapfile_all_to_one
combine.control.mapfile_in = ndppp_prep_cal.output.mapfile

sky_cal.control.type       = pythonplugin
sky_cal.control.executable = /opt/prefactor/bin/find_skymodel_cal.py
sky_cal.argument.flags     = [combine.output.mapfile]

mk_inspect_dir.control.kind      = plugin
mk_inspect_dir.control.type      = makeDirectory
mk_inspect_dir.control.directory = {{ inspection_directory }}

copy_h5.control.type       = executable_args
copy_h5.control.executable = /bin/cp
copy_h5.control.mapfile_in = sky_cal.output.SkymodelCal.mapfile
copy_h5.control.arguments  = [source,input.output.working_directory/input.output.job_name]

calloop.control.kind      = loop
calloop.control.loopcount = 3
calloop.control.loopsteps = [again]
again.control.type        = dppp
again.argument.msin       = ndppp_prep_cal.output.mapfile
`;

function parse(text: string) {
  return parsePipelineParset(text, '/cfg/cal.parset', TYPES);
}

function refusal(text: string): string {
  try {
    parse(text);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    expect(error).to.be.instanceOf(UsageError); // the CLI prints it as one line and exits 2
    expect((error as Error).message).to.not.include('\n');
    return (error as Error).message;
  }
  return expect.fail('the parset was accepted');
}

describe('support/config/pipeline-parset', () => {
  it('reads a prefactor-style parset: definitions substituted, sub-lists expanded in place, kinds and types', () => {
    const parset = parse(GOOD.replace('{{ empty_list_name }}', 'tail'));
    expect(parset.order).to.deep.equal(['createmap_cal', 'ndppp_prep_cal', 'combine', 'sky_cal', 'mk_inspect_dir', 'copy_h5', 'calloop']);
    expect(parset.steps.get('createmap_cal')).to.deep.include({ kind: 'plugin', type: 'createMapfile' });
    expect(parset.steps.get('createmap_cal')!.control.get('folder')).to.deep.equal({ value: '/data/cal/', line: 15 });
    expect(parset.steps.get('ndppp_prep_cal')).to.deep.include({ kind: 'recipe', type: 'dppp' });
    expect(parset.steps.get('ndppp_prep_cal')!.arguments.get('avg.timestep')!.value).to.equal('2');
    expect(parset.steps.get('ndppp_prep_cal')!.arguments.get('msin')!.value).to.equal('createmap_cal.output.mapfile');
    expect(parset.steps.get('calloop')).to.deep.include({ kind: 'loop' });
    expect(parset.definitions.get('avg_timestep')).to.equal('2');
  });

  const base = GOOD.replace('{{ empty_list_name }}', 'tail');
  const broken: Array<[string, string, RegExp]> = [
    ['no pipeline.steps', base.replace(/^pipeline\.steps = .*$/m, ''), /cal\.parset:1: pipeline\.steps: missing/],
    ['a step listed with no keys', base.replace('sky_cal, tail]', 'sky_cal, nosuch, tail]'), /cal\.parset:8: pipeline\.steps: step nosuch is listed but has no nosuch\.control\.\* or nosuch\.argument\.\* keys/],
    ['an unknown task type', base.replace('ndppp_prep_cal.control.type            = dppp', 'ndppp_prep_cal.control.type            = ndpp'), /cal\.parset:18: ndppp_prep_cal\.control\.type: unknown task type "ndpp"/],
    ['an unknown plugin', base.replace('combine.control.type       = createMapfile', 'combine.control.type       = createMapFile'), /cal\.parset:\d+: combine\.control\.type: unknown plugin "createMapFile"/],
    ['an undefined {{ name }}', base.replace('{{ avg_timestep }}', '{{ avg_freqstep }}'), /cal\.parset:21: ndppp_prep_cal\.argument\.avg\.timestep: \{\{ avg_freqstep \}\} has no definition/],
    ['a {{ without }}', base.replace('{{ cal_input_pattern }}', '{{ cal_input_pattern'), /cal\.parset:16: createmap_cal\.control\.pattern: a \{\{ without its \}\}/],
    ['a reference to a step that runs later', base.replace('ndppp_prep_cal.argument.msin           = createmap_cal.output.mapfile', 'ndppp_prep_cal.argument.msin           = combine.output.mapfile'), /cal\.parset:20: ndppp_prep_cal\.argument\.msin: combine\.output\.mapfile refers to step combine, which runs after ndppp_prep_cal/],
    ['a reference to a step the parset does not have', base.replace('[combine.output.mapfile]', '[combined.output.mapfile]'), /sky_cal\.argument\.flags: combined\.output\.mapfile refers to a step this parset does not have/],
    ['an unknown input.output key', base.replace('input.output.mapfile_dir', 'input.output.mapfiles'), /createmap_cal\.control\.mapfile_dir: input\.output\.mapfiles: expected one of input\.output\.mapfile_dir/],
    ['a loop without loopcount', base.replace('calloop.control.loopcount = 3\n', ''), /calloop\.control\.loopcount: a loop needs loopcount/],
    ['a loopcount that is not a number', base.replace('loopcount = 3', 'loopcount = three'), /calloop\.control\.loopcount: expected a whole number from 1 up, got "three"/],
    ['a loop step that does not exist', base.replace('loopsteps = [again]', 'loopsteps = [agian]'), /calloop\.control\.loopsteps: step agian has no/],
    ['an unknown kind', base.replace('combine.control.kind       = plugin', 'combine.control.kind       = plug-in'), /combine\.control\.kind: expected one of recipe, plugin, loop, pipeline, got "plug-in"/],
    ['a step list that includes itself', base.replace('copy_h5, calloop]', 'copy_h5, calloop, tail]'), /pipeline\.steps\.tail: the step list tail includes itself \(tail -> tail\)/],
    ['a pythonplugin without its script', base.replace('sky_cal.control.executable = /opt/prefactor/bin/find_skymodel_cal.py\n', ''), /sky_cal\.control\.executable: a pythonplugin step needs the Python script whose main\(\) it runs/],
    ['a line that is not key = value', base.replace('combine.control.method     = mapfile_all_to_one', 'combine.control.method mapfile_all_to_one'), /cal\.parset:26: line: expected "key = value"/],
    ['a key that is no step key', base.replace('combine.control.method', 'combine.method'), /cal\.parset:26: combine\.method: expected <step>\.control\.<key>/],
  ];
  for (const [what, text, message] of broken) {
    it(`refuses ${what}, naming the line and the key`, () => {
      expect(refusal(text)).to.match(message);
    });
  }

  describe('sub-pipelines (kind = pipeline)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'parset-'));
      writeFileSync(join(dir, 'sub.parset'), `! outdir = /default/out
! steps_of = sub
pipeline.mapfile = /data/sub.mapfile
pipeline.steps = [copy, again]
copy.control.type       = executable_args
copy.control.mapfile_in = sub.output.mapfile
copy.control.arguments  = [x, {{ outdir }}, {{ site }}]
again.control.kind      = loop
again.control.loopcount = 2
again.control.loopsteps = [names]
names.control.kind      = plugin
names.control.type      = mapfilenamesFromMapfiles
names.control.mapfile_x = copy.output.mapfile
names.control.mapfile_y = prep.output.mapfile
`);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const main = (extra = '') => `! site = lofar
pipeline.steps = [prep, fin, last]
prep.control.kind      = plugin
prep.control.type      = makeDirectory
prep.control.directory = /tmp/x
fin.control.kind       = pipeline
fin.control.type       = sub.parset
fin.argument.outdir    = /results
${extra}last.control.type      = executable_args
last.control.mapfile_in = fin-copy.output.mapfile
`;
    const read = (text: string) => parsePipelineParset(text, join(dir, 'main.parset'), TYPES);
    const refused = (text: string): string => {
      try {
        read(text);
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as Error).message).to.not.include('\n');
        return (error as Error).message;
      }
      return expect.fail('the parset was accepted');
    };

    it('brings in its steps after it as <step>-<name>, their references and loop renamed, the parent\'s definitions and the step\'s arguments over its own', () => {
      const parset = read(main());
      expect(parset.order).to.deep.equal(['prep', 'fin', 'fin-copy', 'fin-again', 'last']);
      expect(parset.steps.get('fin')!.subPipeline).to.deep.equal({ file: join(dir, 'sub.parset'), mapfile: '/data/sub.mapfile' });
      const copy = parset.steps.get('fin-copy')!;
      expect(copy.file).to.equal(join(dir, 'sub.parset'));
      // sub.output.mapfile (the sub-pipeline's own name) is the calling step's map; outdir is the step's; site is the parent's.
      expect(copy.control.get('mapfile_in')!.value).to.equal('fin.output.mapfile');
      expect(copy.control.get('arguments')!.value).to.equal('[x, /results, lofar]');
      expect(parset.steps.get('fin-again')!.control.get('loopsteps')!.value).to.equal('[fin-names]');
      const names = parset.steps.get('fin-names')!;
      expect(names.control.get('mapfile_x')!.value).to.equal('fin-copy.output.mapfile');
      // A step of the calling parset keeps its name.
      expect(names.control.get('mapfile_y')!.value).to.equal('prep.output.mapfile');
    });

    it('lets the step\'s argument keys replace a definition the sub-parset only takes from the calling parset', () => {
      const parset = read(main('fin.argument.site = astron\n'));
      expect(parset.steps.get('fin-copy')!.control.get('arguments')!.value).to.equal('[x, /results, astron]');
      // The calling parset's own keys keep its value.
      expect(parset.definitions.get('site')).to.equal('lofar');
    });

    it('names a mistake in a sub-pipeline step\'s references by the key as its own file writes it', () => {
      writeFileSync(join(dir, 'sub.parset'), 'pipeline.steps = [a]\na.control.type = executable_args\na.control.mapfile_in = nosuch.output.mapfile\n');
      expect(refused(main().replace('last.control.mapfile_in = fin-copy.output.mapfile', 'last.control.mapfile_in = prep.output.mapfile'))).to.match(/sub\.parset:3: a\.control\.mapfile_in: nosuch\.output\.mapfile refers to a step this parset does not have/);
    });

    it('takes pipeline.replace.<name> as LOFAR does, as ! <name>', () => {
      const parset = read(main().replace('! site = lofar', 'pipeline.replace.site = lofar'));
      expect(parset.steps.get('fin-copy')!.control.get('arguments')!.value).to.equal('[x, /results, lofar]');
      expect(parset.definitions.get('site')).to.equal('lofar');
    });

    const refusals: Array<[string, () => string, RegExp]> = [
      ['a sub-pipeline parset that cannot be read', () => main().replace('sub.parset', 'nosuch.parset'), /main\.parset:7: fin\.control\.type: cannot read the sub-pipeline parset .*nosuch\.parset: ENOENT/],
      ['a sub-pipeline without its parset', () => main().replace('fin.control.type       = sub.parset\n', ''), /main\.parset:\d+: fin\.control\.type: a pipeline step needs its type: the parset of the sub-pipeline/],
      ['a sub-pipeline that includes itself', () => { writeFileSync(join(dir, 'sub.parset'), 'pipeline.steps = [me]\nme.control.kind = pipeline\nme.control.type = sub.parset\n'); return main(); }, /sub\.parset:3: me\.control\.type: the sub-pipeline sub\.parset includes itself \(main\.parset -> sub\.parset -> sub\.parset\)/],
      ['a mistake inside the sub-pipeline, named in its own file', () => { writeFileSync(join(dir, 'sub.parset'), 'pipeline.steps = [a]\na.control.type = nosuchtask\n'); return main(); }, /sub\.parset:2: a\.control\.type: unknown task type "nosuchtask"/],
      ['a sub-pipeline step named as one of the parent\'s', () => main('fin-copy.control.kind = plugin\nfin-copy.control.type = makeDirectory\n'), /fin-copy: step copy of the sub-pipeline fin is named fin-copy, which main\.parset already has/],
      ['a sub-pipeline inside a loop', () => main('lp.control.kind = loop\nlp.control.loopcount = 2\nlp.control.loopsteps = [fin]\n').replace('[prep, fin, last]', '[prep, lp, last]').replace('fin-copy.output.mapfile', 'prep.output.mapfile'), /lp\.control\.loopsteps: step fin is a sub-pipeline: a loop runs steps, not sub-pipelines/],
      ['a reference to a step of the sub-pipeline before it runs', () => main().replace('[prep, fin, last]', '[prep, last, fin]'), /last\.control\.mapfile_in: fin-copy\.output\.mapfile refers to step fin-copy, which runs after last/],
    ];
    for (const [what, text, message] of refusals) {
      it(`refuses ${what}, naming the file, line and key`, () => {
        expect(refused(text())).to.match(message);
      });
    }
  });
});
