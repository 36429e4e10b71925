import type { FieldNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/**
 * Whether the query selects the given path below the current field (through fragments), e.g.
 * `['edges', 'node', 'tags']` under `customers`. Lets a list resolver fetch a relation together
 * with the page instead of leaving it to per-row field resolvers.
 */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  return info.fieldNodes.some((node) => walk(node.selectionSet, path, info));
}

function walk(
  set: SelectionSetNode | undefined,
  path: readonly string[],
  info: GraphQLResolveInfo,
): boolean {
  if (path.length === 0) return true;
  if (!set) return false;
  const [head, ...rest] = path;
  return set.selections.some((selection) => {
    switch (selection.kind) {
      case 'Field':
        return (
          (selection as FieldNode).name.value === head && walk(selection.selectionSet, rest, info)
        );
      case 'InlineFragment':
        return walk(selection.selectionSet, path, info);
      case 'FragmentSpread':
        return walk(info.fragments[selection.name.value]?.selectionSet, path, info);
      default:
        return false;
    }
  });
}
