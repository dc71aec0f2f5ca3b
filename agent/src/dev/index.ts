/**
 * Developer and demo tools that run from the operator's bundle: an
 * embedded MQTT broker (aedes), simulated devices running the real agent
 * with simulated reboots, a tiny bootable OS tree, and the fleet demo.
 * Never part of the device bundle.
 *
 * Error codes: ERR_NETWORK (broker address), ERR_TIMEOUT (the demo's
 * waits), and what provisioning throws (pull, sysroot: ERR_IO,
 * ERR_SIGNATURE_*, ERR_HTTP_STATUS, …).
 */
export { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
export { writeDemoOsTree, type DemoTreeSpec } from './os-tree';
export { SimDevice, failsWhenPresent, removeDeviceDirs, agentPhase, type SimDeviceSpec } from './sim-device';
export { runFleetDemo, stopDemo, pickRolloutId, type FleetDemoOptions, type DemoResources } from './fleet-demo';
