/**
 * The registry, watch and bus behaviour suites (test/contracts/behaviour-*.ts) on a cluster of
 * three hub processes sharing one redis-server: each test's clients spread over the three hubs.
 */
import { Behaviour } from './contracts/behaviour-topology.js';
import { busBehaviour } from './contracts/behaviour-bus.js';
import { registryBehaviour } from './contracts/behaviour-registry.js';
import { watchBehaviour } from './contracts/behaviour-watch.js';
import { clusterOf3 } from './contracts/topologies.js';

const b = new Behaviour(clusterOf3);
b.install();
registryBehaviour(b);
watchBehaviour(b);
busBehaviour(b);
