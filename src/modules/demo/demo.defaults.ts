// Apart from demo.service.ts so that declaring `tagwise seed --seed` loads nothing heavy.
export const DEFAULT_DEMO_SEED = 42;
