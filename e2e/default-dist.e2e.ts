/* The scenarios on the committed dist/ (or $E2E_DIST). */
import * as path from 'path';
import { addressBlock } from './lib/address-plan';
import { scenarioSuite } from './scenarios/suite';

scenarioSuite('committed dist/', {
  distDir: () => process.env.E2E_DIST ?? path.join(__dirname, '..', 'dist'),
  addressBlock: addressBlock(0),
  // the committed dist/ is pg-ha.env synthesized as it is (another $E2E_DIST cannot be re-synthesized)
  variables: process.env.E2E_DIST ? undefined : {},
});
