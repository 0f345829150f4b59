/** The registry, watch and bus behaviour suites (test/contracts/behaviour-*.ts) on one hub with its SQLite store. */
import { Behaviour } from './contracts/behaviour-topology.js';
import { busBehaviour } from './contracts/behaviour-bus.js';
import { registryBehaviour } from './contracts/behaviour-registry.js';
import { watchBehaviour } from './contracts/behaviour-watch.js';
import { singleHub } from './contracts/topologies.js';

const b = new Behaviour(singleHub);
b.install();
registryBehaviour(b);
watchBehaviour(b);
busBehaviour(b);
