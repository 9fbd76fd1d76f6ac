/**
 * Credentials as users write them: every printable ASCII character, alone and together, and the
 * shapes that break naive quoting (leading and trailing spaces, YAML indicators, URI delimiters).
 * Made up here, for tests: none is a password of any cluster.
 */

/** Every printable ASCII character (space to tilde). */
export const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');

/**
 * Texts a credential may hold, each a hard case for some quoting. Not spaces only: the secrets Job
 * refuses a blank credential (and the `yaml` package, unlike PyYAML, reads a block of spaces as empty).
 */
export const HARD_CREDENTIALS: readonly string[] = [
  PRINTABLE_ASCII,
  ...PRINTABLE_ASCII.replace(/[A-Za-z0-9]/g, '').split('').map((c) => `a${c}b`),
  ' leading space', 'trailing space ', '"', "'", '\\', '\\\\"', "''", '""', '#', ' #comment', 'a: b', '- item', '? key', '| block', '> folded',
  '&anchor', '*alias', '!tag', '%percent', '@at', '`tick', '---', '...', '{flow}', '[seq]', '$(HOME)', '$$', '${VAR}', 'a%20b', 'a+b', 'über',
];

/** `$(VAR)` references expanded as the kubelet does (one pass; `$$` is a literal `$`; unknown names stay). */
export function kubeletExpand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$' : name in env ? env[name] : m));
}
