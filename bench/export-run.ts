/** Runs one zone export of the big cloud (bench/scale.ts) and prints its time and peak memory as JSON. */
import { LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import { DirStore, exportZones } from '../lib/integrations/export/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const [endpoint, dir] = process.argv.slice(2);
const ipam = new Ipam(new DynamoStore(documentClient({ endpoint: endpoint!, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }), 'ipam'));
const t0 = performance.now();
const r = await exportZones({ ipam, store: new DirStore(dir!), clouds: ['big'] });
console.log(JSON.stringify({ zones: r.zones, records: r.records, seconds: (performance.now() - t0) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
