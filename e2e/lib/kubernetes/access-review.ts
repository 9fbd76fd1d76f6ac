/*
 * What a ServiceAccount may do, as the real API server's authorizer decides it: a
 * SubjectAccessReview (what `kubectl auth can-i --as=system:serviceaccount:<ns>:<name>` sends).
 */
import type { KubeClient } from './kube-client';

export interface Access {
  verb: string;
  resource: string;
  /** API group ('' for the core group) */
  group?: string;
  subresource?: string;
  name?: string;
  /** default: the ServiceAccount's own namespace */
  namespace?: string;
}

/** Whether the ServiceAccount `namespace/name` may make `access`; throws when the API server does not answer the review. */
export async function serviceAccountMay(api: KubeClient, account: { namespace: string; name: string }, access: Access): Promise<boolean> {
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${account.namespace}:${account.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${account.namespace}`, 'system:authenticated'],
      resourceAttributes: {
        verb: access.verb, group: access.group ?? '', resource: access.resource, subresource: access.subresource ?? '',
        name: access.name ?? '', namespace: access.namespace ?? account.namespace,
      },
    },
  };
  const r = await api.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', review);
  if (r.status !== 201) throw new Error(`SubjectAccessReview for ${review.spec.user}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.status?.allowed === true;
}

/** `verb resource[/subresource] [name] [in namespace]`, as a test prints an access. */
export function describeAccess(a: Access): string {
  return `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;
}
