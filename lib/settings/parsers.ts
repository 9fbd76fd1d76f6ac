/** Parsers for the list-valued variables of pg-ha.env (labels, tolerations, PostgreSQL parameters). */
import { k8s } from 'cdk8s-plus-28';
import { checkAnnotationKey, checkLabel, checkToleration, ConfigError } from '../validation';

/**
 * Tolerations in kubectl's taint syntax, comma-separated: `key=value:Effect` (Equal), `key:Effect` or
 * `key` (Exists), e.g. `dedicated=postgres:NoSchedule`. Used by the TOLERATIONS setting.
 */
export function parseTolerations(setting: string, text: string): k8s.Toleration[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '').map((item) => {
    const match = /^([^=:]+)(?:=([^:]*))?(?::([A-Za-z]+))?$/.exec(item);
    if (!match) throw new ConfigError(setting, item, 'a toleration "key=value:Effect", "key:Effect" or "key" (comma-separated)');
    const [, key, value, effect] = match;
    const toleration: k8s.Toleration = {
      key,
      operator: value === undefined ? 'Exists' : 'Equal',
      ...(value !== undefined ? { value } : {}),
      ...(effect !== undefined ? { effect } : {}),
    };
    checkToleration(setting, toleration);
    return toleration;
  });
}

/** `key=value` pairs, comma-separated (NODE_SELECTOR). */
export function parseLabelMap(setting: string, text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of text.split(',').map((i) => i.trim()).filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(setting, item, 'key=value pairs separated by commas, e.g. "node-role.kubernetes.io/db=true"');
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    checkLabel(setting, key, value);
    map[key] = value;
  }
  return map;
}

/**
 * PostgreSQL parameters, `name=value` separated by commas (POSTGRES_PARAMETERS); a value that
 * holds commas is written in single quotes, as in postgresql.conf:
 * `work_mem=16MB,search_path='"$user", public'`. Names and values are checked where they are used.
 */
export function parseParameterList(setting: string, text: string): Record<string, string> {
  const map: Record<string, string> = {};
  const valid = "name=value pairs separated by commas, a value with commas in single quotes, e.g. \"work_mem=16MB,max_connections=200\"";
  const item = /\s*([^=,'\s]+)\s*=\s*('(?:[^']|'')*'|[^,']*?)\s*(?:,|$)/y;
  let at = 0;
  while (at < text.length) {
    if (/^[\s,]*$/.test(text.slice(at))) break;
    item.lastIndex = at;
    const match = item.exec(text);
    if (!match || match[0] === '') throw new ConfigError(setting, text.slice(at), valid);
    const [, name, raw] = match;
    if (raw === '') throw new ConfigError(setting, `${name}=`, valid);
    if (name in map) throw new ConfigError(setting, name, 'each parameter once');
    map[name] = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : raw;
    at = item.lastIndex;
  }
  return map;
}

/**
 * `key=value` pairs, comma-separated, with any value text but a comma (ROUTER_SERVICE_ANNOTATIONS):
 * `service.beta.kubernetes.io/aws-load-balancer-type=nlb`. A value holding a comma needs the
 * TypeScript settings (`router.external.annotations`).
 */
export function parseAnnotations(setting: string, text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of text.split(',').map((i) => i.trim()).filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(setting, item, 'key=value pairs separated by commas, e.g. "service.beta.kubernetes.io/aws-load-balancer-type=nlb"');
    map[checkAnnotationKey(setting, item.slice(0, eq).trim())] = item.slice(eq + 1).trim();
  }
  return map;
}
