// catalog/ checked with one pinned Backstage release's own code (see
// package.json): the entity validators of @backstage/catalog-model and
// @backstage/plugin-scaffolder-common, ajv for the form's pages, and the
// scaffolder's dry-run runner (the code behind its /v2/dry-run API) with the
// real actions the template uses. Nothing reaches GitHub or a cluster: in a
// dry run, publish:github:pull-request and http:backstage:request (for a
// POST) only log what they would do, which is all that is played here.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const yaml = require('js-yaml');
const Ajv = require('ajv');

const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');
const { systemEntityV1alpha1Validator, apiEntityV1alpha1Validator } = require('@backstage/catalog-model');
const { ConfigReader } = require('@backstage/config');
const { ScmIntegrations } = require('@backstage/integration');
const { mockCredentials } = require('@backstage/backend-test-utils');
const scaffolder = require('@backstage/plugin-scaffolder-backend');
const { createPublishGithubPullRequestAction } = require('@backstage/plugin-scaffolder-backend-module-github');
const { createHttpBackstageAction } = require('@roadiehq/scaffolder-backend-module-http-request');
// The dry-run runner is not among the package's exports; its file is.
const { createDryRunner } = require(path.join(
  path.dirname(require.resolve('@backstage/plugin-scaffolder-backend/package.json')),
  'dist/scaffolder/dryrun/createDryRunner.cjs.js',
));

const repo = path.resolve(__dirname, '../..');
const catalog = path.join(repo, 'catalog');
const template = yaml.load(fs.readFileSync(path.join(catalog, 'template.yaml'), 'utf8'));
const entities = yaml.loadAll(fs.readFileSync(path.join(catalog, 'catalog-info.yaml'), 'utf8'));
const claimFiles = fs.readdirSync(path.join(repo, 'examples/claims')).filter(f => f.endsWith('.yaml'));
const claims = claimFiles.map(f => ({ file: f, claim: yaml.load(fs.readFileSync(path.join(repo, 'examples/claims', f), 'utf8')) }));

// The form's answers for a claim: its name and namespace, how to deliver
// it, and its spec's fields, each a parameter of the same name.
function answers(claim, delivery = { delivery: 'pull-request', repoUrl: 'github.com?owner=platform&repo=gitops' }) {
  return { name: claim.metadata.name, namespace: claim.metadata.namespace, ...delivery, ...structuredClone(claim.spec) };
}

// Each page validates the answers, as the form does page by page; ui:*
// keys are the form renderer's, not JSON Schema's.
function pageValidators() {
  const ajv = new Ajv({ strict: true, allErrors: true, strictRequired: false });
  for (const k of ['ui:order', 'ui:field', 'ui:options', 'ui:widget', 'ui:placeholder']) {
    ajv.addKeyword({ keyword: k });
  }
  return template.spec.parameters.map(page => ({ title: page.title, validate: ajv.compile(page) }));
}

function formErrors(validators, values) {
  const errs = [];
  for (const v of validators) {
    if (!v.validate(values)) {
      errs.push(`${v.title}: ${v.validate.errors.map(e => `${e.instancePath} ${e.message}`).join('; ')}`);
    }
  }
  return errs;
}

test('the template passes the scaffolder\'s template validator', async () => {
  assert.equal(await templateEntityV1beta3Validator.check(template), true);
});

test('the catalog entities pass catalog-model\'s System and API validators', async () => {
  const [system, api] = structuredClone(entities);
  // The catalog resolves $text placeholders before it validates; so here.
  api.spec.definition = fs.readFileSync(path.join(catalog, api.spec.definition.$text), 'utf8');
  assert.equal(system.kind, 'System');
  assert.equal(await systemEntityV1alpha1Validator.check(system), true);
  assert.equal(api.kind, 'API');
  assert.equal(await apiEntityV1alpha1Validator.check(api), true);
  // Named as TeraSky's kubernetes-ingestor names the XRD's API entity, so
  // catalogs running both get one entity.
  assert.equal(api.metadata.name, 'restatestack-stack.restate-crossplane.io--v1alpha1');
  assert.equal(api.spec.type, 'crd');
  assert.equal(api.spec.system, system.metadata.name);
  assert.match(api.spec.definition, /kind: CompositeResourceDefinition/);
});

test('each parameter page compiles with ajv (strict)', () => {
  assert.equal(pageValidators().length, template.spec.parameters.length);
});

test('every example claim validates against the form', () => {
  const v = pageValidators();
  for (const { file, claim } of claims) {
    assert.deepEqual(formErrors(v, answers(claim)), [], file);
  }
});

// refused.yaml: claims the XRD's schema refuses (fn/form_test.go checks
// that the function's schema validation refuses each, naming the field);
// the form must refuse each too.
test('every claim the XRD refuses by a schema rule, the form refuses', () => {
  const v = pageValidators();
  const { base, cases } = yaml.load(fs.readFileSync(path.join(catalog, 'testdata/refused.yaml'), 'utf8'));
  assert.ok(cases.length > 0);
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  for (const c of cases) {
    const claim = { metadata: { name: 'refused', namespace: 'team-a' }, spec: mergePatch(structuredClone(base), c.patch) };
    if (c.formCannot) {
      // A rule the form cannot check: the README says so.
      assert.deepEqual(formErrors(v, answers(claim)), [], `${c.name}: the form checks it after all; drop formCannot`);
      assert.ok(readme.includes(c.formCannot), `${c.name}: the README does not list it ("${c.formCannot}")`);
      continue;
    }
    assert.notDeepEqual(formErrors(v, answers(claim)), [], `${c.name}: the form accepts what the XRD refuses`);
  }
});

// RFC 7386, the JSON merge patch refused.yaml's cases are written as.
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// dryRun runs the template as the scaffolder's dry-run API does, with the
// real actions, and returns the files it wrote and its log.
async function dryRun(values, steps = template.spec.steps) {
  const config = new ConfigReader({});
  const integrations = ScmIntegrations.fromConfig(config);
  const logger = { info() {}, warn() {}, error() {}, debug() {}, child() { return logger; } };
  const actions = new Map(
    [
      // The template's files are local (a file: base URL): no reader is used.
      scaffolder.createFetchTemplateFileAction({ reader: {}, integrations }),
      createPublishGithubPullRequestAction({ integrations, config, githubCredentialsProvider: { getCredentials: async () => ({ token: 'dry-run' }) } }),
      createHttpBackstageAction({
        discovery: { getBaseUrl: async id => `http://backstage.invalid/api/${id}`, getExternalBaseUrl: async id => `http://backstage.invalid/api/${id}` },
        auth: { getPluginRequestToken: async () => ({ token: 'dry-run' }) },
        config,
      }),
    ].map(a => [a.id, a]),
  );
  const actionRegistry = { async get(id) { const a = actions.get(id); if (!a) throw new Error(`no action ${id}`); return a; }, async list() { return actions; } };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'restate-stack-dry-run-'));
  const contents = path.join(work, 'template');
  // The backend's metrics service: counted nowhere here.
  const instrument = new Proxy({}, { get: () => () => {} });
  const metrics = new Proxy({}, { get: () => () => instrument });
  const run = createDryRunner({ actionRegistry, integrations, logger, config, metrics, workingDirectory: path.join(work, 'tasks') });
  const directoryContents = fs.readdirSync(catalog).filter(f => f.endsWith('.njk')).map(f => ({
    path: f, content: fs.readFileSync(path.join(catalog, f)),
  }));
  try {
    const { spec } = template;
    const result = await run({
      spec: { apiVersion: template.apiVersion, steps, output: spec.output, parameters: values },
      templateInfo: { entityRef: 'template:default/restate-stack', baseUrl: pathToFileURL(path.join(contents, 'template.yaml')).href },
      directoryContents,
      secrets: {},
      credentials: mockCredentials.user(),
    });
    const files = Object.fromEntries(result.directoryContents.map(f => [f.path, f.content.toString('utf8')]));
    return { files, log: result.log.map(l => l.body.message), output: result.output };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

test('the dry run writes each example claim exactly, and opens a pull request with it', async () => {
  for (const { file, claim } of claims) {
    const { files, log, output } = await dryRun(answers(claim));
    const target = `restate/${claim.metadata.namespace}/${claim.metadata.name}.yaml`;
    assert.deepEqual(Object.keys(files), [target], file);
    assert.deepEqual(yaml.load(files[target]), claim, `${file}: the written claim differs`);
    assert.ok(log.some(m => m.includes('Performing dry run of creating pull request')), `${file}: no pull request step ran:\n${log.join('\n')}`);
    assert.equal(output.links[0].url, 'github.com?owner=platform&repo=gitops');
  }
});

test('the dry run applies to a cluster when asked, through the Kubernetes proxy', async () => {
  const { claim } = claims.find(c => c.file === 'selfhosted-minimal.yaml');
  const { log } = await dryRun(answers(claim, { delivery: 'cluster', cluster: 'platform' }));
  assert.ok(log.some(m => m.includes("Skipping non dry-run safe method 'POST' request to /kubernetes/proxy/apis/stack.restate-crossplane.io/v1alpha1/namespaces/team-a/restatestacks")), log.join('\n'));
  assert.ok(!log.some(m => m.includes('creating pull request')), 'a pull request step ran too');
});

// The runner checks each step's input against its action's input schema;
// this shows it does, so the runs above passed that check.
test('the dry run refuses a step input its action\'s schema refuses', async () => {
  const { claim } = claims.find(c => c.file === 'selfhosted-minimal.yaml');
  const steps = structuredClone(template.spec.steps);
  steps.find(s => s.id === 'pull-request').input.draft = 'not a boolean';
  await assert.rejects(dryRun(answers(claim), steps), /Invalid input passed to action publish:github:pull-request/);
});
