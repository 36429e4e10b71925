// Apart from suggestion.service.ts so that declaring `tagwise suggest --cooldown-days` loads
// nothing heavy.
export const DEFAULT_COOLDOWN_DAYS = 90;
