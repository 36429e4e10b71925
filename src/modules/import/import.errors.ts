/**
 * A problem with what the user asked for — a missing file, a bad mapping, a header without a
 * required column — as opposed to a bad row, which is rejected and reported, not thrown. The
 * message is one line meant for a person; the CLI prints it without a stack. `field` names the
 * option or mapping path at fault (`complete`, `mapping.fields.externalId.template`) where there
 * is one, for callers that point at it.
 */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ImportError';
  }
}
