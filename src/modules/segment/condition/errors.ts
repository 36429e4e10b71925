import { InvalidInputError } from '../../common/domain.errors.js';

/** A problem at a path of the tree, e.g. `and[2].feature.name`; '' is the root. */
export interface ConditionIssue {
  path: string;
  message: string;
}

export function joinPath(prefix: string, path: string): string {
  if (!prefix) return path;
  if (!path) return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

/** An ill-formed or invalid condition; `field` is the first issue's path under `prefix`. */
export class ConditionError extends InvalidInputError {
  readonly issues: ConditionIssue[];

  constructor(issues: ConditionIssue[], prefix = '') {
    const located = issues.map((i) => ({ path: joinPath(prefix, i.path), message: i.message }));
    const field = located[0]?.path || prefix || 'condition';
    super(field, located.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), {
      issues: located,
    });
    this.issues = located;
  }
}

/** A syntax error in condition text; `position` is a 0-based offset, line and column 1-based. */
export class ConditionSyntaxError extends InvalidInputError {
  constructor(
    readonly reason: string,
    readonly position: number,
    readonly line: number,
    readonly column: number,
    field = 'condition',
  ) {
    super(field, `${reason} at ${line}:${column}`, { position, line, column });
  }
}
