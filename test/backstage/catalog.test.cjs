// catalog/ checked with one pinned Backstage release's own code (see
// package.json): the entity validators of @backstage/catalog-model and
// @backstage/plugin-scaffolder-common, ajv for the form's pages, and a
// Backstage backend with the scaffolder plugin and the modules of the
// actions the template uses, whose dry-run API runs the template. The
// backend is backend-test-utils' test backend: the real plugins, with core
// services (database: SQLite in memory; auth; catalog) from its mocks.
// Nothing reaches GitHub or a cluster: in a dry run,
// publish:github:pull-request and http:backstage:request (for a POST) only
// log what they would do, which is all that is played here.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const Ajv = require('ajv');

const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');
const { systemEntityV1alpha1Validator, apiEntityV1alpha1Validator } = require('@backstage/catalog-model');
const { startTestBackend, mockServices, mockCredentials } = require('@backstage/backend-test-utils');
const { catalogServiceMock } = require('@backstage/plugin-catalog-node/testUtils');

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

// The backend, started once: its start and each dry run are timed in the
// test's output.
let backend;
test.before(async () => {
  const start = Date.now();
  backend = await startTestBackend({
    features: [
      require('@backstage/plugin-scaffolder-backend'),
      require('@backstage/plugin-scaffolder-backend-module-github'),
      require('@roadiehq/scaffolder-backend-module-http-request'),
      catalogServiceMock.factory(),
      // The GitHub action wants a token for the host even in a dry run.
      mockServices.rootConfig.factory({ data: { integrations: { github: [{ host: 'github.com', token: 'dry-run' }] } } }),
    ],
  });
  console.log(`# a Backstage backend with the scaffolder plugin started in ${Date.now() - start} ms`);
});
// The scaffolder leaves a timer behind once stopped: package.json runs
// node --test with --test-force-exit.
test.after(async () => { await backend?.stop(); });

// dryRun posts the template, the answers and the template's files to the
// scaffolder's /v2/dry-run API, and returns the files it wrote, its log and
// output.
async function dryRun(values, steps = template.spec.steps) {
  const start = Date.now();
  const res = await fetch(`http://localhost:${backend.server.port()}/api/scaffolder/v2/dry-run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...mockCredentials.user.header() },
    body: JSON.stringify({
      template: { ...template, spec: { ...template.spec, steps } },
      values,
      secrets: {},
      directoryContents: fs.readdirSync(catalog).filter(f => f.endsWith('.njk')).map(f => ({
        path: f, base64Content: fs.readFileSync(path.join(catalog, f)).toString('base64'),
      })),
    }),
  });
  const body = await res.json();
  if (res.status !== 200) {
    throw new Error(`dry run: ${res.status} ${JSON.stringify(body.error ?? body)}`);
  }
  console.log(`# dry run of ${values.namespace}/${values.name}: ${Date.now() - start} ms`);
  const files = Object.fromEntries(body.directoryContents.map(f => [f.path, Buffer.from(f.base64Content, 'base64').toString('utf8')]));
  return { files, log: body.log.map(l => l.body.message), output: body.output };
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
