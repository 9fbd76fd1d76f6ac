/* The scenarios on the committed dist/ (or $E2E_DIST). */
import * as path from 'path';
import { addressBlock } from './lib/address-plan';
import { scenarioSuite } from './scenarios/suite';

scenarioSuite('committed dist/', { distDir: () => process.env.E2E_DIST ?? path.join(__dirname, '..', 'dist'), addressBlock: addressBlock(0) });
