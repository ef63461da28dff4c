/** `npm start`: the local service. See lib/local/service.ts and the README for settings. */
import { configFromEnv, startLocalService } from '../lib/local/service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const service = await Promise.resolve()
  .then(() => startLocalService(configFromEnv()))
  .catch((e: Error) => {
    console.error(`ipam: could not start: ${e.message}`);
    process.exit(1);
  });

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: stopping`);
    service.stop().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
}
