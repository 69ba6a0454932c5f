/**
 * One problem in a config file. `line` and `column` are 1-based. `key` is the
 * dotted path of the offending key (`statsd.udp.port`,
 * `aggregation.timer_buckets[2]`), or `(root)` when the problem is not inside
 * any key: the document as a whole, or a file that cannot be read.
 */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  key: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    // The CLI prints `message` verbatim, so it must be exactly the
    // human-readable report: one compiler-style line per issue.
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.key}: ${issue.message}`;
}

/** The key of an issue that is not inside any key: the document as a whole, or a file that cannot be read. */
export const ROOT_KEY = '(root)';

export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
