/**
 * The LocalStack profile is opt-in (it needs Docker, which this project's machines lack). What can be
 * checked here is that its smoke test is honest: without LocalStack it fails loudly, never passes.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const smoke = (env: Record<string, string>) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile('bash', ['deploy/localstack/smoke.sh'], { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
  );

describe('LocalStack smoke test', () => {
  it('fails loudly when LocalStack is not reachable', async () => {
    const r = await smoke({ LOCALSTACK_ENDPOINT: 'http://127.0.0.1:9' });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/LocalStack is NOT reachable/);
  });

  it('fails when something answers but it is not a LocalStack with the needed services', async () => {
    const srv = createServer((_req, res) => res.end(JSON.stringify({ services: { s3: 'running' } })));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = await smoke({ LOCALSTACK_ENDPOINT: `http://127.0.0.1:${port}` });
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/lacks services/);
    } finally {
      srv.close();
    }
  });
});
