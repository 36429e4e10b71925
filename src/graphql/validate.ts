import { validate, type ValidationError } from 'class-validator';
import { getNamedType } from 'graphql';
import type { ResolverData } from 'type-graphql';
import { InvalidInputError } from '../modules/common/domain.errors.js';

/**
 * Replaces type-graphql's built-in validation so a failure names the exact field, list index
 * included (`input[3].email`, `filter.profile[0].in`), as BAD_USER_INPUT.
 */
export async function validateArgument(
  value: unknown,
  type: unknown,
  { info }: ResolverData,
): Promise<void> {
  if (value === null || typeof value !== 'object') return;
  // Input-object arguments are prefixed with their argument name; @ArgsType classes hold the
  // arguments themselves.
  const typeName = typeof type === 'function' ? type.name : undefined;
  const fieldArgs = info.parentType.getFields()[info.fieldName]?.args ?? [];
  const argument = fieldArgs.find((a) => getNamedType(a.type).name === typeName)?.name;
  const items = Array.isArray(value) ? value : [value];
  for (const [index, item] of items.entries()) {
    if (item === null || typeof item !== 'object') continue;
    const errors = await validate(item as object, {
      skipMissingProperties: true,
      forbidUnknownValues: false,
    });
    const first = errors[0];
    if (!first) continue;
    const prefix = (argument ?? '') + (Array.isArray(value) ? `[${index}]` : '');
    const field = joinPath(prefix, path(first));
    throw new InvalidInputError(field, `${field}: ${firstMessage(first)}`);
  }
}

function joinPath(prefix: string, rest: string): string {
  if (!prefix) return rest;
  return rest.startsWith('[') ? prefix + rest : `${prefix}.${rest}`;
}

function path(error: ValidationError): string {
  const child = error.children?.[0];
  const own = /^\d+$/.test(error.property) ? `[${error.property}]` : error.property;
  return child ? joinPath(own, path(child)) : own;
}

function firstMessage(error: ValidationError): string {
  if (error.constraints) {
    const message = Object.values(error.constraints)[0] ?? 'is invalid';
    // class-validator starts messages with the property name; the field path already says it.
    return message.startsWith(`${error.property} `)
      ? message.slice(error.property.length + 1)
      : message;
  }
  return error.children?.[0] ? firstMessage(error.children[0]) : 'is invalid';
}
