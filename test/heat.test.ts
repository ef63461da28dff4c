/**
 * Heat (issue 11, item 8): the environment file read back by the real heatclient parsers (Debian
 * python3-heatclient: environment_format.parse and template_format.parse, PyYAML with YAML 1.1 rules).
 * Every value must come back as the exact string: slot names like `on` or `Yes` are booleans to YAML 1.1,
 * `null` is null, the IPv6 address 10:20:30:40:50:59:0:1 a sexagesimal integer. And the README's Heat
 * example, taken from the README itself, must parse and get every parameter from IPAM's output.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { EnvironmentView } from '../lib/engine/environments.js';
import { heatEnvironment, heatParameters } from '../lib/integrations/heat.js';
import { startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, ipamOn } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Debian's python3 (python3-heatclient lives there, whatever python3 comes first on PATH). */
const PYTHON = '/usr/bin/python3';

/** heatclient's own parser (`env`: environment_format.parse, `template`: template_format.parse), its result as JSON. */
function heatParse(kind: 'env' | 'template', text: string): any {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: these tests need Debian's python3-heatclient (apt-get install python3-heatclient; .ci/apt-packages lists it)`);
  const script = [
    'import json, sys',
    'from heatclient.common import environment_format, template_format',
    "parse = environment_format.parse if sys.argv[1] == 'env' else template_format.parse",
    'json.dump(parse(sys.stdin.read()), sys.stdout)',
  ].join('\n');
  return JSON.parse(execFileSync(PYTHON, ['-c', script, kind], { input: text, encoding: 'utf8' }));
}

/** Names and values YAML 1.1 reads as something else than the string (booleans, null, numbers, tags). */
const YAML11_NAMES = ['on', 'On', 'ON', 'off', 'Off', 'OFF', 'yes', 'Yes', 'YES', 'no', 'No', 'NO', 'y', 'Y', 'n', 'N', 'true', 'True', 'false', 'FALSE', 'null', 'Null', 'NULL'];
const YAML11_VALUES = ['10:20:30:40:50:59:0:1', '1:2', '190:20:30', '1:20.5', '0x1f', '0o17', '017', '1_000', '2020-01-01', '.inf', '.nan', '~', '=', '<<', 'null', 'yes', '', ' ', '#x', '- a', 'a: b', '"q"', "'s'", '10.0.0.1,10.0.0.2', '2001:db8::1', '2001:db8::/64'];

describe('the Heat environment file under YAML 1.1 (heatclient)', () => {
  it('gives back every slot name and value as the exact string, with the network parameters', async () => {
    const slots: EnvironmentView['slots'] = {};
    YAML11_NAMES.forEach((name, i) => {
      const v = YAML11_VALUES[i % YAML11_VALUES.length]!;
      slots[name] = {
        zone: 'z',
        pool: 'p',
        ...(i % 2 ? { count: 2 } : {}),
        addresses: i % 2 ? [v, YAML11_VALUES[(i + 7) % YAML11_VALUES.length]!] : [v],
        network: { name: 'n', cidr: YAML11_VALUES[(i + 1) % YAML11_VALUES.length]!, prefixLength: 24, ...(i % 3 ? { gateway: YAML11_VALUES[(i + 2) % YAML11_VALUES.length]! } : {}), dnsServers: i % 4 ? [YAML11_VALUES[(i + 3) % YAML11_VALUES.length]!, '10:20:30:40:50:59:0:53'] : [], searchDomains: [], ntpServers: [], routes: [] },
      };
    });
    // A slot named like another's network parameter keeps its own value (new definitions with such names are refused).
    Object.defineProperty(slots, 'constructor', { enumerable: true, writable: true, value: { zone: 'z', pool: 'p', addresses: ['10:20:30:40:50:59:0:2'], network: { name: 'n', cidr: '10:20:30:40:50:59:0:0/112', prefixLength: 112, dnsServers: [], searchDomains: [], ntpServers: [], routes: [] } } });
    slots.constructor_cidr = { zone: 'z', pool: 'p', addresses: ['10.9.9.9'] };
    const view: EnvironmentView = { environment: 'e', cloud: 'c', slots };
    const file = await heatEnvironment(view);
    const parsed = heatParse('env', file);
    expect(Object.keys(parsed)).toEqual(['parameter_defaults']);
    const expected = Object.fromEntries(heatParameters(view));
    expect(parsed.parameter_defaults).toEqual(expected);
    for (const [k, v] of Object.entries(parsed.parameter_defaults)) expect(typeof v, k).toBe('string');
    // Exactly the convention: <slot>, <slot>_cidr, <slot>_gateway ('' without one), <slot>_dns_servers (a comma list).
    expect(expected.on).toBe('10:20:30:40:50:59:0:1');
    expect(expected.On).toBe(`${YAML11_VALUES[1]},${YAML11_VALUES[8]}`);
    expect(expected.on_cidr).toBe(YAML11_VALUES[1]);
    expect(expected.on_gateway).toBe('');
    expect(expected.on_dns_servers).toBe('');
    expect(expected.On_gateway).toBe(YAML11_VALUES[3]);
    expect(expected.On_dns_servers).toBe(`${YAML11_VALUES[4]},10:20:30:40:50:59:0:53`);
    expect(expected.constructor_cidr).toBe('10.9.9.9');
    expect(expected).not.toHaveProperty('constructor_cidr_cidr');
    expect(Object.keys(expected)).toHaveLength(YAML11_NAMES.length * 4 + 2 + 2);
    // The YAML 1.2 reading (the `yaml` package, netplan's libyaml) is the same.
    expect(parseYaml(file)).toEqual(parsed);
  });
});

/** The fenced block of `lang` that follows the line containing `marker` in the README. */
function readmeBlock(marker: string, lang: string): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md: no ${JSON.stringify(marker)}`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (!m) throw new Error(`README.md: no ${lang} block after ${JSON.stringify(marker)}`);
  return m[1]!;
}

const IPV4_LITERAL = /\b\d{1,3}(\.\d{1,3}){3}\b/;
const IPV6_LITERAL = /(?<![\w:.])(([0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}|[0-9a-f:]*::[0-9a-f:]*)(?![\w:])/i;

describe('the Heat environment over HTTP, and the README example', () => {
  let svc: RunningService;
  const table = `heat-${randomBytes(4).toString('hex')}`;
  /** The topology (networks, pools in them), laid out on the service's table before the service reads the cloud. */
  const topology = () => ipamOn(table);
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_TABLE: table });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('answers slot names on/Yes/no/null and an IPv6 address YAML 1.1 reads as a number as exact strings', async () => {
    const c = svc.client();
    await topology().createNetwork('h', 'z', 'n6', { cidr: '10:20:30:40:50:59:0:0/112', gateway: '10:20:30:40:50:59:0:2', dnsServers: ['10:20:30:40:50:59:0:53', '10:20:30:40:50:59:0:54'] }, ctx);
    await topology().createPool('h', 'z', 'v6', { ranges: ['10:20:30:40:50:59:0:1'], network: 'n6' }, ctx);
    await topology().createPool('h', 'z', 'v4', { ranges: ['10.77.0.0/24'] }, ctx);
    const body = { slots: { on: { zone: 'z', pool: 'v6', vm: 'h-1' }, Yes: { zone: 'z', pool: 'v4', vm: 'h-2', count: 2 }, no: { zone: 'z', pool: 'v4', vip: 'h-3' }, null: { zone: 'z', pool: 'v4', vm: 'h-4' } } };
    const put = await c.request<any>('PUT', '/v1/clouds/h/environments/yaml11', { body });
    expect(put.body.slots.on.addresses).toEqual(['10:20:30:40:50:59:0:1']);
    const heat = await c.request<string>('GET', '/v1/clouds/h/environments/yaml11', { query: { format: 'heat' } });
    const parsed = heatParse('env', heat.body);
    expect(parsed).toEqual({
      parameter_defaults: {
        on: '10:20:30:40:50:59:0:1',
        on_cidr: '10:20:30:40:50:59::/112', // canonical form
        on_gateway: '10:20:30:40:50:59:0:2',
        on_dns_servers: '10:20:30:40:50:59:0:53,10:20:30:40:50:59:0:54',
        Yes: put.body.slots.Yes.addresses.join(','), no: put.body.slots.no.addresses[0], null: put.body.slots.null.addresses[0] },
    });
    // A slot named like another slot's network parameter is refused before anything is allocated.
    const clash = await c.request('PUT', '/v1/clouds/h/environments/clash', { body: { slots: { web: { zone: 'z', pool: 'v4', vm: 'c-1' }, web_gateway: { zone: 'z', pool: 'v4', vm: 'c-2' } } } }).catch((e) => e);
    expect(clash).toMatchObject({ status: 400, problem: { reason: 'InvalidInput', details: { slot: 'web_gateway' } } });
    expect(await c.byHolder('h', 'vm', 'c-1')).toEqual([]);
  });

  it("the README's template parses with heatclient, holds no IP literal, and its servers are named like the addresses they get", async () => {
    const templateText = readmeBlock('`shop.hot.yaml`', 'yaml');
    const template = heatParse('template', templateText);
    expect(template.heat_template_version).toBe('2018-08-31');
    expect(templateText).not.toMatch(IPV4_LITERAL);
    expect(templateText).not.toMatch(IPV6_LITERAL);
    for (const literal of ['10.20.0.1', '2001:db8::1', '10:20:30:40:50:59:0:1', 'fe80::1']) expect(`x: ${literal}`).toMatch(literal.includes(':') ? IPV6_LITERAL : IPV4_LITERAL);
    const manifest = parseYaml(readmeBlock('`shop.yaml`', 'yaml'));
    const c = svc.client();
    const t = topology();
    await t.createNetwork('readme', 'dmz', 'dmz', { cidr: '10.20.0.0/24', gateway: '10.20.0.1', dnsServers: ['10.20.0.53', '10.20.0.54'] }, ctx);
    await t.createNetwork('readme', 'data', 'data', { cidr: '10.40.0.0/24', gateway: '10.40.0.1', dnsServers: ['10.40.0.53'] }, ctx);
    await t.createPool('readme', 'dmz', 'web', { ranges: ['10.20.0.0/24'], network: 'dmz' }, ctx);
    await t.createPool('readme', 'data', 'db', { ranges: ['10.40.0.0/24'], network: 'data' }, ctx);
    const put = await c.request<any>('PUT', '/v1/clouds/readme/environments/shop', { body: manifest });
    expect(put.status).toBe(201);
    const env = heatParse('env', (await c.request<string>('GET', '/v1/clouds/readme/environments/shop', { query: { format: 'heat' } })).body).parameter_defaults;
    // Every parameter the template declares comes from IPAM's file, as the type it declares.
    for (const [name, decl] of Object.entries<any>(template.parameters)) {
      expect(env, `parameter ${name}`).toHaveProperty(name);
      expect(typeof env[name], name).toBe('string');
      if (decl.type === 'comma_delimited_list') expect(env[name].split(',').length, name).toBeGreaterThan(0);
    }
    expect(env).toMatchObject({ web_servers_cidr: '10.20.0.0/24', web_servers_gateway: '10.20.0.1', web_servers_dns_servers: '10.20.0.53,10.20.0.54', db_ip_cidr: '10.40.0.0/24', db_ip_gateway: '10.40.0.1', db_ip_dns_servers: '10.40.0.53' });
    expect(env.web_servers.split(',')).toHaveLength(3);
    // Heat's ResourceGroup: member i gets resource_def with %index% = i; its server name must be the
    // hostname of the address it takes from the list parameter.
    const group = Object.values<any>(template.resources).find((r) => r.type === 'OS::Heat::ResourceGroup');
    expect(group).toBeDefined();
    for (let i = 0; i < group.properties.count; i++) {
      const member = JSON.parse(JSON.stringify(group.properties.resource_def).replaceAll('%index%', String(i)));
      const fixed = JSON.stringify(member).match(/\{"get_param":\["(\w+)","(\d+)"\]\}/);
      expect(fixed, JSON.stringify(member)).not.toBeNull();
      const address = String(env[fixed![1]!]).split(',')[Number(fixed![2])]!;
      expect((await c.lookup('readme', address)).hostname).toBe(member.properties.name);
    }
  });
});
