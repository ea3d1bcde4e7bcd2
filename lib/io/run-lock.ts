// One writer per run folder and per record: a process that writes a run takes <dir>/.lock first (a record:
// <record>.lock), created exclusively, holding its PID, host and start time, and refuses to start while a live
// process holds it. A lock left by a killed process on this host is taken over; one from another host is never
// guessed about, since its holder cannot be checked from here, except by the same Slurm job (a requeued task: Slurm
// never runs two instances of one job).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const LOCK_FILE = '.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's start time as the kernel counts it (Linux), so that a reused PID is not taken for the holder. */
  processStart?: string;
  command: string;
  since: string;
  /** The Slurm job the holder ran in (SLURM_JOB_ID), if any. */
  job?: string;
}

export class RunFolderBusyError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    const who = `glit ${holder.command} (PID ${holder.pid} on ${holder.host}, since ${holder.since})`;
    const fix =
      holder.host === os.hostname()
        ? 'wait for it to finish or stop it, then --resume'
        : `if that process is gone, delete ${path.join(dir, LOCK_FILE)} and --resume`;
    super(`${dir} is in use by ${who}: two runs must not write one folder; ${fix}, or choose another --out`);
    this.name = 'RunFolderBusyError';
  }
}

/** The kernel's start time of a process (field 22 of /proc/<pid>/stat), or undefined where there is no /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(holder: LockHolder): boolean {
  if (holder.job !== undefined && holder.job === process.env.SLURM_JOB_ID) return false;
  if (holder.host !== os.hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = processStart(holder.pid);
  return holder.processStart === undefined || start === undefined || start === holder.processStart;
}

function readHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder.pid) && typeof holder.host === 'string' ? holder : null;
  } catch (e) {
    // Gone meanwhile, or damaged (locks are linked into place whole, so never half-written): no live holder.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return null;
    throw e;
  }
}

export interface RunLock {
  file: string;
  release(): void;
}

/**
 * Takes the lock of run folder `dir` (created if missing) for this process, or throws RunFolderBusyError naming the
 * holder. Released by release() or when the process exits.
 */
export function lockRunFolder(dir: string, command: string): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  return takeLock(path.join(dir, LOCK_FILE), command, (holder) => new RunFolderBusyError(dir, holder));
}

/** A record (results/<table>-<scale>.json) another live process is adding units to. */
export class RecordBusyError extends Error {
  constructor(
    readonly record: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${record} is being recorded by glit ${holder.command} (PID ${holder.pid} on ${holder.host}, since ${holder.since}): ` +
        `two runs must not add to one record (each would train the units the other lacks); wait for it to finish or ` +
        `stop it, or record elsewhere${holder.host === os.hostname() ? '' : ` (if that process is gone, delete ${record}.lock)`}`,
    );
    this.name = 'RecordBusyError';
  }
}

/** Takes `<record>.lock` for this process, as lockRunFolder does a run folder's, or throws RecordBusyError. */
export function lockRecord(record: string, command: string): RunLock {
  fs.mkdirSync(path.dirname(record), { recursive: true });
  return takeLock(`${record}.lock`, command, (holder) => new RecordBusyError(record, holder));
}

function takeLock(file: string, command: string, busy: (holder: LockHolder) => Error): RunLock {
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    processStart: processStart(process.pid),
    command,
    since: new Date().toISOString(),
    ...(process.env.SLURM_JOB_ID ? { job: process.env.SLURM_JOB_ID } : {}),
  };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; ; attempt++) {
    // Written whole to a private file, then linked into place: link fails if the lock exists, and never shows a
    // half-written holder.
    const own = `${file}.${process.pid}`;
    fs.writeFileSync(own, text);
    try {
      fs.linkSync(own, file);
      fs.unlinkSync(own);
      break;
    } catch (e) {
      fs.unlinkSync(own);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(file);
    // This process already holds it: a notebook that reruns a cell (and may have reloaded this module) takes it again.
    if (holder && holder.pid === me.pid && holder.host === me.host && holder.processStart === me.processStart) {
      return heldLock(file, holder);
    }
    if (holder && alive(holder)) throw busy(holder);
    if (attempt >= 20) throw new Error(`${file}: could not take the lock (it keeps changing); try again`);
    // A dead holder's lock is moved aside, and only when it is still the one just read (another taker may have
    // replaced it meanwhile).
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = readHolder(aside);
    if (holder && moved && (moved.pid !== holder.pid || moved.since !== holder.since)) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // The lock was taken again meanwhile; the next attempt reads the new holder.
      }
    }
    fs.rmSync(aside, { force: true });
  }
  return heldLock(file, me);
}

/**
 * The locks this process holds, released at exit by one listener. Kept on globalThis: tslab compiles lib/ again when
 * an import cell is rerun, and a listener per module instance would pile up.
 */
const held: Map<string, LockHolder> = ((globalThis as { glitRunLocks?: Map<string, LockHolder> }).glitRunLocks ??=
  (() => {
    const locks = new Map<string, LockHolder>();
    process.on('exit', () => [...locks.keys()].forEach(releaseFile));
    return locks;
  })());

function releaseFile(file: string): void {
  const holder = held.get(file);
  held.delete(file);
  const current = readHolder(file);
  if (holder && current && current.pid === holder.pid && current.since === holder.since)
    fs.rmSync(file, { force: true });
}

/** The lock `holder` (this process) has on `file`, released by release() or at exit. */
function heldLock(file: string, holder: LockHolder): RunLock {
  held.set(file, holder);
  return { file, release: () => releaseFile(file) };
}
