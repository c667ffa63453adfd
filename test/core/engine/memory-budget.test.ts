import { describe, expect, it } from 'vitest';
import { availableMemoryBytes, defaultMemoryLimit } from '../../../core/engine/index.ts';
import { openLocalLake } from '../../../core/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();
const GiB = 1024 ** 3;

describe('DuckDB memory by default', () => {
  it('is a quarter of the memory available (two engines at once, half of it for DuckDB), from 256 MiB to 1 GiB', () => {
    expect(defaultMemoryLimit(24 * GiB)).toBe('1024MiB');
    expect(defaultMemoryLimit(2 * GiB)).toBe('512MiB');
    expect(defaultMemoryLimit(512 * 1024 ** 2)).toBe('256MiB');
  });

  it("counts a container's memory limit (cgroup v2, then v1) rather than the machine's", () => {
    const files = (contents: Record<string, string>) => (file: string) => {
      const text = contents[file];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return text;
    };
    const machine = 16 * GiB;
    expect(availableMemoryBytes(files({ '/sys/fs/cgroup/memory.max': `${2 * GiB}\n` }), machine, undefined)).toBe(2 * GiB);
    expect(availableMemoryBytes(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': `${GiB}\n` }), machine, undefined)).toBe(GiB);
    // Unlimited: "max" (v2) or a number beyond the machine (v1).
    expect(availableMemoryBytes(files({ '/sys/fs/cgroup/memory.max': 'max\n' }), machine, undefined)).toBe(machine);
    expect(availableMemoryBytes(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }), machine, undefined)).toBe(machine);
    expect(availableMemoryBytes(files({}), machine, undefined)).toBe(machine);
    // What Node found (it follows a nested cgroup v2, as under a systemd slice) comes first.
    expect(availableMemoryBytes(files({ '/sys/fs/cgroup/memory.max': 'max\n' }), machine, 3 * GiB)).toBe(3 * GiB);
    expect(availableMemoryBytes(files({}), machine, 0)).toBe(machine);
  });

  it("a local lake's engines run under it unless told otherwise", async () => {
    const directory = await tempDir('lake');
    const engine = await openLocalLake(directory).createEngine();
    const [row] = (await engine.query(`SELECT current_setting('memory_limit') AS limit`)).rows;
    engine.close();
    const expected = await openLocalLake(directory, { memoryLimit: defaultMemoryLimit() }).createEngine();
    const [same] = (await expected.query(`SELECT current_setting('memory_limit') AS limit`)).rows;
    expected.close();
    expect(row?.limit).toBe(same?.limit);
    expect(String(row?.limit)).not.toBe('');
    const roomy = await openLocalLake(directory, { memoryLimit: '3GB' }).createEngine();
    const [set] = (await roomy.query(`SELECT current_setting('memory_limit') AS limit`)).rows;
    roomy.close();
    expect(set?.limit).not.toBe(row?.limit);
  });
});
