import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the Unix sockets go when the config names no path: a directory of
 * this user's that no other user can create files in, so nobody can bind
 * the socket name before the agent does and receive what applications meant
 * for it (or keep the agent from starting). A fixed name in /tmp could be
 * taken that way by any local user.
 *
 * $XDG_RUNTIME_DIR/tally-agent when the session has a runtime directory
 * (systemd makes it 0700 per user), else tally-agent-<uid> in the temp
 * directory. The folder is made 0750: the group may reach the sockets (whose
 * own mode, 0660 by default, says who may send), others may not even look.
 */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime.startsWith('/')) return join(runtime, 'tally-agent');
  return join(tmpdir(), `tally-agent-${process.getuid?.() ?? 'user'}`);
}

/**
 * The configured socket path, or `name` in the default directory, made if
 * missing. A default directory that is not this user's own, or that others
 * may write to, is refused: someone else made it to take the sockets.
 */
export async function socketPath(configured: string | undefined, name: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (configured !== undefined) return configured;
  const dir = defaultSocketDir(env);
  await mkdir(dir, { mode: 0o750 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw new Error(`could not make the socket directory ${dir}: ${err.message}`);
  });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    const what = !st.isDirectory() ? 'is not a directory' : uid !== undefined && st.uid !== uid ? `belongs to uid ${st.uid}, not this user (${uid})` : `may be written by others (mode ${(st.mode & 0o777).toString(8)})`;
    throw new Error(`socket directory ${dir} ${what}: another user could take the socket there; remove it, or set the socket path in the config`);
  }
  return join(dir, name);
}
