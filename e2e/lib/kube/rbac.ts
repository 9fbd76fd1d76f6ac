/*
 * Kubernetes RBAC, evaluated the way the API server's RBAC authorizer does, from the Roles,
 * ClusterRoles, RoleBindings and ClusterRoleBindings in the store (so from dist/ once applied):
 * a request is allowed when some rule bound to the user or one of its groups covers its verb,
 * API group, resource (`pods/eviction` for a subresource) and, when the rule lists
 * resourceNames, its object name. A create or list has no name, so a rule with resourceNames
 * never allows it. There is no deny: no matching rule means 403.
 */
import { ApiObject, ObjectStore } from './object-store';

export interface UserInfo {
  /** `system:serviceaccount:<namespace>:<name>` for a ServiceAccount token. */
  username: string;
  groups: string[];
}

export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  /** Empty for cluster-scoped requests and lists across namespaces. */
  namespace: string;
  /** Empty for create, list and deletecollection. */
  name: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

const has = (list: string[] | undefined, v: string): boolean => !!list && (list.includes('*') || list.includes(v));

/** One rule against one request, as rbac's RuleAllows: `*` wildcards, `*\/sub` for any resource's subresource. */
export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = (rule.resources ?? []).some((r) => r === '*' || r === combined || (a.subresource !== '' && r === `*/${a.subresource}`));
  if (!resourceOk) return false;
  if (!rule.resourceNames || rule.resourceNames.length === 0) return true;
  return a.name !== '' && rule.resourceNames.includes(a.name);
}

function subjectMatches(subject: { kind: string; name: string; namespace?: string }, bindingNamespace: string, user: UserInfo): boolean {
  switch (subject.kind) {
    case 'ServiceAccount':
      return user.username === `system:serviceaccount:${subject.namespace ?? bindingNamespace}:${subject.name}`;
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
  }
  return false;
}

export class RbacAuthorizer {
  constructor(private readonly store: ObjectStore) {}

  /** The rules that apply to this user in this namespace (ClusterRoleBindings everywhere, RoleBindings in their namespace). */
  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    if (user.groups.includes('system:masters')) return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];
    const rules: PolicyRule[] = [];
    const bound = (b: ApiObject, ns: string): boolean => (b.subjects ?? []).some((s: { kind: string; name: string; namespace?: string }) => subjectMatches(s, ns, user));
    for (const b of this.store.list('ClusterRoleBinding')) {
      if (b.roleRef?.kind === 'ClusterRole' && bound(b, '')) rules.push(...this.roleRules('ClusterRole', '', b.roleRef.name));
    }
    if (namespace) {
      for (const b of this.store.list('RoleBinding', namespace)) {
        if (!bound(b, namespace)) continue;
        const kind = b.roleRef?.kind === 'ClusterRole' ? 'ClusterRole' : 'Role';
        rules.push(...this.roleRules(kind, namespace, b.roleRef?.name));
      }
    }
    return rules;
  }

  /** A binding to a Role that does not exist grants nothing (as in a cluster). */
  private roleRules(kind: 'Role' | 'ClusterRole', namespace: string, name: string): PolicyRule[] {
    return (this.store.get(kind, namespace, name)?.rules ?? []) as PolicyRule[];
  }

  allowed(user: UserInfo, a: RequestAttributes): boolean {
    return this.rulesFor(user, a.namespace).some((r) => ruleAllows(r, a));
  }

  /** The API server's 403 wording: `pods "x" is forbidden: User "..." cannot patch resource "pods" in API group "" in the namespace "pg-ha"`. */
  static forbiddenMessage(user: UserInfo, a: RequestAttributes): string {
    const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
    const what = a.name ? `${qualified} "${a.name}"` : qualified;
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const where = a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
    return `${what} is forbidden: User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}"${where}`;
  }
}
