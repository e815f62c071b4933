// One process per data directory: `crossbook.lock` is created with O_EXCL and holds the owner's pid. A second server
// on the same directory refuses to start and names the holder; a lock whose pid is no longer alive (the holder was
// killed) is stale and taken over. Two exchanges writing one journal would diverge and lose acknowledged commands.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

export const DATA_LOCK_FILE = "crossbook.lock";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";

  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(`data directory ${dataDir} is in use by another crossbook (pid ${holderPid}): one server per data directory`);
  }
}

/** Whether a process with this pid exists (signal 0 checks without signalling; EPERM means it exists). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid in a lock file, or 0 when it is unreadable or holds no pid (a lock torn by a crash while writing it). */
function lockHolder(path: string): number {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  }
}

/** Lock files this process holds (a lock naming our own pid that is not here was left by an earlier process). */
const heldPaths = new Set<string>();

/** A held lock; release() removes the file if it is still ours. */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the data directory's lock for this process or throws DataDirLockedError naming the live holder. A stale lock
 * (holder dead, or no pid in it) is removed and the creation retried once.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = resolve(join(dataDir, DATA_LOCK_FILE));
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = lockHolder(path);
      const live = holder === process.pid ? heldPaths.has(path) : holder !== 0 && pidAlive(holder);
      if (live) throw new DataDirLockedError(dataDir, holder);
      unlinkSync(path);
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    heldPaths.add(path);
    return {
      path,
      release(): void {
        if (!heldPaths.delete(path)) return;
        if (lockHolder(path) === process.pid) unlinkSync(path);
      },
    };
  }
  throw new DataDirLockedError(dataDir, lockHolder(path));
}
