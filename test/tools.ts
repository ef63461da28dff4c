/**
 * The Debian tools the tests validate exports with (.ci/apt-packages). Missing ones are installed
 * with apt-get when this runs as root on Debian/Ubuntu (as on CI); otherwise the run stops and names them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const onPath = (bin: string) => [...(process.env.PATH ?? '').split(':'), ...SBIN].some((d) => d && existsSync(path.join(d, bin)));

export function ensureTools(root: string) {
  const list = path.join(root, '.ci/apt-packages');
  const wanted = [['java', 'openjdk-17-jre-headless'], ['curl', 'curl']];
  if (existsSync(list)) {
    for (const line of readFileSync(list, 'utf8').split('\n')) {
      const [bin, pkg] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (bin && pkg) wanted.push([bin, pkg]);
    }
  }
  const missing = [...new Set(wanted.filter(([bin]) => !onPath(bin!)).map(([, pkg]) => pkg!))];
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canInstall) throw new Error(`the tests need these Debian packages: ${missing.join(' ')}\n  sudo apt-get install -y ${missing.join(' ')}`);
  console.error(`[tests] installing ${missing.join(' ')} with apt-get ...`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** The path of a required tool (PATH, then the sbin directories); throws a clear error when missing. */
export function tool(name: string, pkg: string): string {
  for (const d of [...(process.env.PATH ?? '').split(':'), ...SBIN, '/usr/bin']) {
    if (d && existsSync(path.join(d, name))) return path.join(d, name);
  }
  throw new Error(`${name} is not installed: these tests need it (apt-get install ${pkg}; .ci/apt-packages lists it)`);
}
