// The import rules of support/ (README "How it is built"); checked by `npm run check:imports`
// and by test/support/import-rules.test.ts in `npm test`. Type-only imports count: a type
// borrowed from another part is a dependency on it all the same.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'node-side-stands-alone',
      comment: 'node/ runs on the compute hosts and protocol/ is what both sides share: they import nothing of the master, only each other and errors.ts.',
      severity: 'error',
      from: { path: '^support/(node|protocol)/' },
      to: { path: '^support/', pathNot: ['^support/(node|protocol)/', '^support/errors[.]ts$'] },
    },
    {
      name: 'agent-stands-alone',
      comment: 'agent/ is the host agent: it runs on the compute hosts beside node/, so it imports only node/, protocol/ and errors.ts.',
      severity: 'error',
      from: { path: '^support/agent/' },
      to: { path: '^support/', pathNot: ['^support/(agent|node|protocol)/', '^support/errors[.]ts$'] },
    },
    {
      name: 'launchers-know-no-jobs',
      comment: 'A launcher starts a command on a host: it knows no recipes, no scheduler or job, no records, no run.',
      severity: 'error',
      from: { path: '^support/launchers/' },
      to: { path: '^support/(recipe|dispatch|records|run|cli)/' },
    },
    {
      name: 'records-know-no-launchers',
      comment: 'Records are written from run events and the job vocabulary (protocol/job-outcome.ts), not from launchers, dispatch or recipes.',
      severity: 'error',
      from: { path: '^support/records/' },
      to: { path: '^support/(launchers|dispatch|recipe|run|cli)/' },
    },
    {
      name: 'logging-knows-no-jobs',
      comment: 'Logging formats and writes records; it knows nothing of what produced them.',
      severity: 'error',
      from: { path: '^support/logging/' },
      to: { path: '^support/(launchers|dispatch|recipe|records|run|cli|config|node)/' },
    },
    {
      name: 'config-at-the-bottom',
      comment: 'Configuration is read before anything runs: it imports only errors and the protocol.',
      severity: 'error',
      from: { path: '^support/config/' },
      to: { path: '^support/(launchers|dispatch|recipe|records|run|cli|logging|node)/' },
    },
    {
      name: 'lofar-formats-stand-alone',
      comment: "LOFAR's file formats (data maps) are read by recipes and tools alike: they import only errors.",
      severity: 'error',
      from: { path: '^support/lofar/' },
      to: { path: '^support/(launchers|dispatch|recipe|records|run|cli|logging|node|config|protocol)/' },
    },
    {
      name: 'dispatch-knows-no-recipes',
      comment: 'Dispatch runs ComputeJobs for whoever made them: no recipe, run or records module.',
      severity: 'error',
      from: { path: '^support/dispatch/' },
      to: { path: '^support/(recipe|run|cli)/' },
    },
    {
      name: 'deploy-knows-no-jobs',
      comment: 'Deploying copies files to hosts through their launchers: no scheduler, recipe, records or run.',
      severity: 'error',
      from: { path: '^support/deploy/' },
      to: { path: '^support/(recipe|dispatch|records|run|cli)/' },
    },
    {
      name: 'nothing-imports-the-cli',
      comment: 'The CLI is the top: nothing under support/ imports it.',
      severity: 'error',
      from: { path: '^support/', pathNot: '^support/cli/' },
      to: { path: '^support/cli/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes the order of loading, and of reading, a guess.',
      severity: 'error',
      from: { path: '^support/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing would fail at run time.',
      severity: 'error',
      from: { path: '^support/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-dependencies-at-run-time',
      comment: 'What support/ loads at run time must be a dependency, not a devDependency.',
      severity: 'error',
      from: { path: '^support/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
