/**
 * statsd name patterns as a mapping file's globs read them: `*` stands for
 * one dot-separated component or part of one (never a dot), everything else
 * for itself. Used to pick counters by the name the client sends.
 */
export function compileNamePatterns(patterns: readonly string[]): ((name: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  const alternatives = patterns.map((p) => p.split('*').map(escapeRegex).join('[^.]*'));
  const re = new RegExp(`^(?:${alternatives.join('|')})$`);
  return (name) => re.test(name);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
