/**
 * Preloaded (`--import`) into a control plane the simulator spawns with
 * --expose-gc: a full GC on SIGUSR2, so memory per proxy is read without
 * garbage. Never part of the product.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
