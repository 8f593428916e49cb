/**
 * CPU time of a process and of its git children, from /proc (Linux), for the CPU per
 * deploy of issue #14. Times are in ms; /proc counts in clock ticks (10 ms at USER_HZ 100),
 * which over a burst of seconds is fine resolution.
 */
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

interface Stat {
  /** utime + stime: the process's own CPU. */
  self: number;
  /** cutime + cstime: its children that it has reaped (and theirs). */
  reaped: number;
}

async function stat(pid: number): Promise<Stat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone meanwhile
  }
  // After "pid (comm) ": state is field 3; utime, stime, cutime, cstime are fields 14-17.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(fields[i - 3]) * TICK_MS;
  return { self: n(14) + n(15), reaped: n(16) + n(17) };
}

async function children(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const c of text.split(' ').filter(Boolean)) out.push(Number(c));
  }
  return out;
}

/** CPU of `pid` and of everything below it, live or reaped. */
async function tree(pid: number): Promise<number> {
  const s = await stat(pid);
  if (!s) return 0;
  let total = s.self + s.reaped;
  for (const c of await children(pid)) total += await tree(c);
  return total;
}

/** CPU so far of the process itself, and of its descendants (live ones plus those it reaped). */
export interface CpuSample {
  self: number;
  children: number;
}

export async function sampleCpu(pid: number): Promise<CpuSample> {
  const s = await stat(pid);
  if (!s) throw new Error(`no process ${pid}`);
  return { self: s.self, children: (await tree(pid)) - s.self };
}

/** CPU spent between two samples. */
export function cpuBetween(before: CpuSample, after: CpuSample): CpuSample {
  return { self: after.self - before.self, children: after.children - before.children };
}
