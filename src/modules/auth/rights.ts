// Apart from api-key.entity.ts (which re-exports them) so that declaring `tagwise apikey create
// --role` loads no ORM.
export enum Role {
  VIEWER = 'VIEWER',
  REVIEWER = 'REVIEWER',
  DATA_SCIENTIST = 'DATA_SCIENTIST',
  ADMIN = 'ADMIN',
}

/** What a key may do beyond its role. */
export enum Permission {
  /** See personal data (email, phone, name, personal attributes) in clear. */
  PII = 'PII',
}
