/**
 * Parsers of the list-shaped variables: label maps (key=value pairs) and tolerations
 * (key=value:Effect, key:Effect, key). The accepted forms are shown reaching the settings in
 * env-table.test.ts; here, every malformed form is rejected with the variable's name.
 */
import { parseTolerations, settingsFromVariables } from '../../lib';

test('a label map rejects a pair without "=" and a value that is not a label value', () => {
  expect(() => settingsFromVariables({ NODE_SELECTOR: 'disk' })).toThrow(/NODE_SELECTOR must be key=value pairs/);
  expect(() => settingsFromVariables({ NETWORK_POLICY_CLIENT_POD_LABELS: 'app=my app' })).toThrow(/NETWORK_POLICY_CLIENT_POD_LABELS\["app"\] must be a label value/);
});

test('a toleration rejects an unknown effect and a malformed entry', () => {
  expect(() => settingsFromVariables({ TOLERATIONS: 'dedicated=db:Never' })).toThrow(/TOLERATIONS.effect must be one of/);
  expect(() => parseTolerations('TOLERATIONS', 'a:b:c')).toThrow(/TOLERATIONS must be a toleration "key=value:Effect"/);
});
