import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuditResolver } from '../modules/audit/audit.resolver.js';
import { ApiKeyResolver } from '../modules/auth/api-key.resolver.js';
import { ViewerResolver } from '../modules/auth/viewer.resolver.js';
import { CustomerResolver } from '../modules/customer/customer.resolver.js';
import { EventResolver } from '../modules/event/event.resolver.js';
import { FeatureResolver } from '../modules/feature/feature.resolver.js';
import {
  ClusterResolver,
  CustomerClusterResolver,
  ModelRunResolver,
  ModelVersionResolver,
} from '../modules/model-registry/model-registry.resolver.js';
import {
  RuleConflictResolver,
  RuleResolver,
  RuleRunResolver,
} from '../modules/rule/rule.resolver.js';
import { RunResolver } from '../modules/run/run.resolver.js';
import { CustomerSegmentsResolver, SegmentResolver } from '../modules/segment/segment.resolver.js';
import {
  CustomerSuggestionsResolver,
  ModelVersionPrecisionResolver,
  ReviewQueueConnectionResolver,
  SuggestionResolver,
  TagAutoApplyResolver,
} from '../modules/suggestion/suggestion.resolver.js';
import { TagLabelsResolver } from '../modules/tagging/label.resolver.js';
import { CustomerTagsResolver, TagHistoryResolver } from '../modules/tagging/tagging.resolver.js';
import { TagCategoryResolver, TagResolver } from '../modules/taxonomy/taxonomy.resolver.js';
import { TraitResolver } from '../modules/trait/trait.resolver.js';
import { assertMutationsAudited, notePersonalReads } from './audit.js';
import { AuthChecker } from './auth-checker.js';
import { validateArgument } from './validate.js';

export const resolvers = [
  ApiKeyResolver,
  ViewerResolver,
  AuditResolver,
  CustomerResolver,
  EventResolver,
  FeatureResolver,
  ModelVersionResolver,
  CustomerClusterResolver,
  ClusterResolver,
  ModelRunResolver,
  CustomerTagsResolver,
  TagHistoryResolver,
  TagCategoryResolver,
  TagResolver,
  SegmentResolver,
  CustomerSegmentsResolver,
  RuleResolver,
  RuleRunResolver,
  RuleConflictResolver,
  RunResolver,
  SuggestionResolver,
  ReviewQueueConnectionResolver,
  CustomerSuggestionsResolver,
  ModelVersionPrecisionResolver,
  TagAutoApplyResolver,
  TagLabelsResolver,
  TraitResolver,
] as const;

export async function buildGraphQLSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    authChecker: AuthChecker,
    validateFn: validateArgument,
  });
  assertMutationsAudited(schema);
  notePersonalReads(schema);
  return schema;
}

/** The committed `schema.graphql`: sorted, so it diffs only when the API changes. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
